//! Configuration: redis.conf files, refused and unknown directives, CONFIG SET taking effect
//! at once, CONFIG REWRITE, and the command line's --help/--version.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Client, Resp, ServerProcess, TempDir, free_port, run_bounded};

const RUN_LIMIT: Duration = Duration::from_secs(30);

fn write_config(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("sluice.conf");
    std::fs::write(&path, text).expect("writing the config file");
    path
}

fn config_get(client: &mut Client, name: &str) -> String {
    match client.cmd(&["CONFIG", "GET", name]) {
        Resp::Array(items) if items.len() == 2 => items[1].text().unwrap_or_default(),
        other => panic!("CONFIG GET {name}: unexpected reply {other:?}"),
    }
}

/// Runs sluice with a config file expecting it to refuse to start; returns its stderr.
fn refused_start(config: &Path) -> (Option<i32>, String) {
    let port = free_port().to_string();
    let (code, out, err) = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_sluice")).args([
            config.to_str().expect("utf-8 temp path"),
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
        ]),
        RUN_LIMIT,
    );
    (code, format!("{out}{err}"))
}

#[test]
fn starts_from_a_redis_conf() {
    let dir = TempDir::new("config-start");
    let path = write_config(
        &dir,
        "# A redis.conf as a package would install it.\n\
         \n\
         # Snapshotting\n\
         save 3600 1\n\
         client-output-buffer-limit pubsub 32mb 8mb 60\n\
         timeout 120\n\
         maxclients 500\n\
         # Known to Redis, accepted without effect by sluice:\n\
         lazyfree-lazy-expire yes\n\
         \t  hz 15   \n\
         appendonly no\n\
         slave-read-only yes\n",
    );
    let server = ServerProcess::sluice_with_config(&path, &[]);
    let mut client = server.client();
    assert_eq!(config_get(&mut client, "save"), "3600 1");
    assert_eq!(
        config_get(&mut client, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(config_get(&mut client, "timeout"), "120");
    assert_eq!(config_get(&mut client, "maxclients"), "500");
    assert_eq!(config_get(&mut client, "hz"), "15");
    assert_eq!(config_get(&mut client, "lazyfree-lazy-expire"), "yes");
    assert_eq!(config_get(&mut client, "replica-read-only"), "yes");
    assert_eq!(config_get(&mut client, "port"), server.port.to_string());
    // Flags after the file win over the file.
    drop(client);
    drop(server);
    let server = ServerProcess::sluice_with_config(&path, &["--timeout", "7"]);
    let mut client = server.client();
    assert_eq!(config_get(&mut client, "timeout"), "7");
    assert_eq!(config_get(&mut client, "hz"), "15");
}

#[test]
fn unknown_directive_is_fatal_and_named() {
    let dir = TempDir::new("config-unknown");
    let path = write_config(&dir, "# fine\nport 6379\nno-such-directive-xyz 42\n");
    let (code, output) = refused_start(&path);
    assert!(
        code.is_some_and(|c| c != 0),
        "sluice should exit non-zero on an unknown directive; exit {code:?}, output:\n{output}"
    );
    assert!(
        output.contains("no-such-directive-xyz"),
        "the error should name the directive:\n{output}"
    );
    // The same through a flag.
    let port = free_port().to_string();
    let (code, out, err) = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_sluice")).args([
            "--port",
            &port,
            "--no-such-flag-xyz",
            "1",
        ]),
        RUN_LIMIT,
    );
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}");
    assert!(
        format!("{out}{err}").contains("no-such-flag-xyz"),
        "{out}{err}"
    );
}

#[test]
fn bad_values_are_fatal() {
    let dir = TempDir::new("config-bad");
    let path = write_config(&dir, "timeout notanumber\n");
    let (code, output) = refused_start(&path);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}:\n{output}");
    assert!(output.contains("timeout"), "{output}");
    let path = write_config(&dir, "save \"unbalanced\n");
    let (code, output) = refused_start(&path);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}:\n{output}");
}

#[test]
fn appendonly_yes_is_refused() {
    let dir = TempDir::new("config-aof");
    let path = write_config(&dir, "appendonly yes\n");
    let (code, output) = refused_start(&path);
    assert!(
        code.is_some_and(|c| c != 0),
        "appendonly yes must be refused; exit {code:?}, output:\n{output}"
    );
    assert!(output.contains("appendonly"), "{output}");
    // Nor can it be switched on at run time.
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    let reply = client.cmd(&["CONFIG", "SET", "appendonly", "yes"]);
    assert!(reply.is_error(), "{reply:?}");
    assert_eq!(config_get(&mut client, "appendonly"), "no");
}

#[test]
fn config_set_maxclients_and_requirepass_apply_at_once() {
    let server = ServerProcess::sluice(&[]);
    let mut admin = server.client();
    let mut second = server.client();
    assert_eq!(second.cmd_raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        admin.cmd_raw(&["CONFIG", "SET", "maxclients", "2"]),
        b"+OK\r\n"
    );
    let mut third = server.client();
    assert_eq!(
        third.read_raw().expect("the refusal"),
        b"-ERR max number of clients reached\r\n"
    );
    assert!(third.closed_within(Duration::from_secs(5)));
    assert_eq!(
        admin.cmd_raw(&["CONFIG", "SET", "maxclients", "10000"]),
        b"+OK\r\n"
    );
    let mut fourth = server.client();
    assert_eq!(fourth.cmd_raw(&["PING"]), b"+PONG\r\n");

    assert_eq!(
        admin.cmd_raw(&["CONFIG", "SET", "requirepass", "s3cret"]),
        b"+OK\r\n"
    );
    assert_eq!(config_get(&mut admin, "requirepass"), "s3cret");
    // Connections that were already open stay usable; new ones must authenticate.
    assert_eq!(second.cmd_raw(&["PING"]), b"+PONG\r\n");
    let mut newcomer = server.client();
    assert_eq!(
        newcomer.cmd_raw(&["PING"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(newcomer.cmd_raw(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(newcomer.cmd_raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        admin.cmd_raw(&["CONFIG", "SET", "requirepass", ""]),
        b"+OK\r\n"
    );
    let mut free = server.client();
    assert_eq!(free.cmd_raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        free.cmd_raw(&["AUTH", "x"]),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
}

#[test]
fn config_rewrite_keeps_comments_and_unknown_lines() {
    let dir = TempDir::new("config-rewrite");
    let original = "# Top comment: keep me\n\
                    timeout 0\n\
                    \n\
                    # Lazy freeing (sluice accepts it without effect)\n\
                    lazyfree-lazy-expire yes\n\
                    save 3600 1\n\
                    # trailing comment\n";
    let path = write_config(&dir, original);
    let server = ServerProcess::sluice_with_config(&path, &[]);
    let mut client = server.client();
    assert_eq!(
        client.cmd_raw(&["CONFIG", "SET", "timeout", "77"]),
        b"+OK\r\n"
    );
    assert_eq!(client.cmd_raw(&["CONFIG", "SET", "hz", "20"]), b"+OK\r\n");
    assert_eq!(client.cmd_raw(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let rewritten = std::fs::read_to_string(&path).expect("reading the rewritten file");
    for kept in [
        "# Top comment: keep me",
        "# Lazy freeing (sluice accepts it without effect)",
        "lazyfree-lazy-expire yes",
        "# trailing comment",
        "timeout 77",
        "hz 20",
    ] {
        assert!(
            rewritten.lines().any(|l| l.trim() == kept),
            "missing {kept:?} in the rewritten config:\n{rewritten}"
        );
    }
    assert!(
        !rewritten.lines().any(|l| l.trim() == "timeout 0"),
        "the old value should be replaced:\n{rewritten}"
    );
    // The comment stays before the line it described.
    let comment = rewritten.find("# Top comment").unwrap_or(usize::MAX);
    let timeout = rewritten.find("timeout 77").unwrap_or(0);
    assert!(comment < timeout, "{rewritten}");
    // The rewritten file starts a server with the new values.
    drop(client);
    drop(server);
    let server = ServerProcess::sluice_with_config(&path, &[]);
    let mut client = server.client();
    assert_eq!(config_get(&mut client, "timeout"), "77");
    assert_eq!(config_get(&mut client, "hz"), "20");
    assert_eq!(config_get(&mut client, "save"), "3600 1");
}

#[test]
fn config_rewrite_without_a_file_fails() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    assert_eq!(
        client.cmd_raw(&["CONFIG", "REWRITE"]),
        b"-ERR The server is running without a config file\r\n"
    );
}

#[test]
fn help_and_version() {
    let binary = env!("CARGO_BIN_EXE_sluice");
    let (code, out, err) = run_bounded(Command::new(binary).arg("--help"), RUN_LIMIT);
    assert_eq!(code, Some(0), "--help failed: {err}");
    assert!(out.contains("Usage"), "{out}");
    assert!(out.to_lowercase().contains("redis"), "{out}");
    let (code, out, err) = run_bounded(Command::new(binary).arg("--version"), RUN_LIMIT);
    assert_eq!(code, Some(0), "--version failed: {err}");
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
}

/// The ready-made files in tuning/config start as they are (with our own port and dir), and
/// their settings are the ones in effect.
#[test]
fn tuning_configs_start_and_apply() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/config");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .expect("tuning/config")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for path in names {
        let dir = TempDir::new("tuning-config");
        let dir_text = dir.path().to_string_lossy().into_owned();
        let server = ServerProcess::sluice_with_config(&path, &["--dir", &dir_text]);
        let mut client = server.client();
        let text = std::fs::read_to_string(&path).expect("reading the file");
        // Every directive in the file (first word, rest as CONFIG GET prints it for the
        // simple ones) is in effect.
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once(' ').expect("directive and value");
            if ["dir", "port", "client-output-buffer-limit", "save"].contains(&name) {
                continue;
            }
            let got = config_get(&mut client, name);
            let expected = match value {
                v if v.ends_with("gb") || v.ends_with("mb") => {
                    let (n, unit) = v.split_at(v.len() - 2);
                    let n: u64 = n.parse().expect("a size");
                    (n << if unit == "gb" { 30 } else { 20 }).to_string()
                }
                v => v.to_string(),
            };
            assert_eq!(got, expected, "{} in {}", name, path.display());
        }
    }
}
