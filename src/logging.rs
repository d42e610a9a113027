//! tracing setup, with the level adjustable at run time (CONFIG SET loglevel).

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::reload;

type Reloader = Box<dyn Fn(&str) + Send + Sync>;

static RELOAD: OnceLock<Reloader> = OnceLock::new();

/// Maps Redis's log levels onto tracing's.
pub fn filter_for(loglevel: &str) -> &'static str {
    match loglevel {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        _ => "info",
    }
}

/// Installs the subscriber; `logfile` empty means standard output. `RUST_LOG`, when set,
/// wins over the configured level.
pub fn init(loglevel: &str, logfile: &str) -> Result<(), String> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .map(EnvFilter::new)
        .unwrap_or_else(|| EnvFilter::new(filter_for(loglevel)));
    let (filter, handle) = reload::Layer::new(filter);
    use tracing_subscriber::prelude::*;
    let registry = tracing_subscriber::registry().with(filter);
    if logfile.is_empty() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    // Colours only for a terminal: supervisors and test harnesses capture
                    // stdout into files, where escape codes are noise.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                    .with_writer(std::io::stdout),
            )
            .try_init()
            .map_err(|e| e.to_string())?;
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
            .map_err(|e| format!("Can't open the log file {logfile}: {e}"))?;
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .try_init()
            .map_err(|e| e.to_string())?;
    }
    let _ = RELOAD.set(Box::new(move |level: &str| {
        let _ = handle.modify(|f| *f = EnvFilter::new(filter_for(level)));
    }));
    Ok(())
}

pub fn set_level(loglevel: &str) {
    if let Some(reload) = RELOAD.get() {
        reload(loglevel);
    }
}
