//! The `sluice` binary: `sluice [/path/to/sluice.conf] [--directive value ...]`, like
//! redis-server.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use clap::Parser;

use sluice::config::Config;
use sluice::server::Server;

#[global_allocator]
static ALLOCATOR: sluice::alloc::CountingAllocator = sluice::alloc::CountingAllocator;

/// A Redis-compatible server whose speciality is replication.
///
/// Takes redis-server's arguments: an optional config file in redis.conf syntax (`-` reads
/// standard input), then any directive as a flag, e.g. `--port 7000 --replicaof 127.0.0.1 6379
/// --save ""`.
#[derive(Parser, Debug)]
#[command(name = "sluice", version, about, long_about = None)]
struct Cli {
    /// `[config-file] [--directive value ...]`
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    args: Vec<String>,
}

fn main() -> Result<()> {
    sluice::alloc::keep_freed_memory_briefly();
    let cli = Cli::parse();
    let config = match Config::from_args(&cli.args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "\n*** FATAL CONFIG FILE ERROR (sluice {}) ***",
                env!("CARGO_PKG_VERSION")
            );
            eprintln!("{e}");
            if let Some(source) = std::error::Error::source(&e) {
                eprintln!("{source}");
            }
            std::process::exit(1);
        }
    };
    sluice::logging::init(&config.loglevel, &config.logfile).map_err(anyhow::Error::msg)?;
    for name in &config.ignored {
        tracing::warn!(
            "directive '{name}' is accepted for compatibility but has no effect in sluice: {}",
            sluice::config::no_effect_reason(name).unwrap_or("not used by sluice")
        );
    }
    if config.daemonize {
        tracing::warn!(
            "daemonize yes is ignored: sluice runs in the foreground (use your supervisor)"
        );
    }
    // `io-threads` sets how many threads serve connections (see tuning/README.md for why the
    // default is 1 on small machines); TOKIO_WORKER_THREADS, if set, still wins.
    let worker_threads = config.io_threads;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(worker_threads.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(serve(config));
    // Tasks still running (a replica link applying its master's stream) must not hold the
    // exit up: everything that had to reach the disk did in `serve`.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

async fn serve(config: Config) -> Result<()> {
    if !config.dir.as_os_str().is_empty() && config.dir != std::path::Path::new(".") {
        std::env::set_current_dir(&config.dir)
            .with_context(|| format!("Can't chdir to '{}'", config.dir.display()))?;
    }
    // A relative `dir` names the directory we are now in, not one below it.
    sluice::snapshot::save::set_startup_dir(&config.dir);
    let listeners = sluice::net::listener::bind_all(&config.bind, config.port).await?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(config.port, |a| a.port());
    let pidfile = config.pidfile.clone();
    let server = Server::new(config);
    server.bound_port.store(u64::from(port), Ordering::Relaxed);
    if !pidfile.is_empty()
        && let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id()))
    {
        tracing::warn!("could not write pidfile {pidfile}: {e}");
    }
    server.startup_memory_bytes.store(
        sluice::alloc::allocated_bytes(),
        std::sync::atomic::Ordering::Relaxed,
    );
    // "PID: N" as Redis's banner prints it: tools that start servers (Redis's own test
    // suite among them) wait for that text.
    tracing::info!(
        port,
        version = env!("CARGO_PKG_VERSION"),
        "Ready to accept connections, PID: {}",
        std::process::id()
    );
    spawn_signal_handler(server.clone());
    // Connections are served while the RDB loads (with -LOADING); replication starts after.
    sluice::link::replica::supervise(&server);
    sluice::boot::startup::start(&server);
    sluice::net::run(server.clone(), listeners).await;
    let durable = server.state.lock().repl.durable.clone();
    if let Some(durable) = durable {
        durable.stop();
        tracing::info!(offset = durable.durable_end(), "replication log flushed");
    }
    tracing::warn!("sluice is now ready to exit, bye bye...");
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    Ok(())
}

fn spawn_signal_handler(server: Arc<Server>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("could not install signal handlers");
            return;
        };
        loop {
            let signal = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::warn!("Received {signal} scheduling shutdown...");
            // Like SHUTDOWN without NOW: replicas get up to shutdown-timeout to catch up,
            // and the dataset is saved first when save points are configured.
            let mut state = server.state.lock();
            let begun =
                sluice::cmd::server::shutdown::begin(&server, &mut state, false, None, None, false);
            if begun == sluice::cmd::server::shutdown::Begun::SaveFailed {
                tracing::warn!(
                    "{signal} received but errors trying to shut down the server, check the logs for more information"
                );
            }
        }
    });
}
