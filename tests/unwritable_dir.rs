//! A `dir` sluice cannot write must never mean silent loss. A durable log that cannot be
//! created stops start-up with a message naming the path and the OS error (as an AOF that
//! cannot be opened stops Redis); a save that fails makes writes (and PING) answer -MISCONF
//! while `stop-writes-on-bgsave-error` is on, exactly as redis-server 7.0 does, until a save
//! succeeds again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::compare::wait_for;
use common::{Client, Kind, ServerProcess, TempDir, free_port, redis_available};

const LIMIT: Duration = Duration::from_secs(30);

/// Starts sluice on `dir` and expects it to exit with an error within [`LIMIT`]; returns what
/// it printed.
fn refused_start(dir: &Path) -> String {
    let log = dir.with_extension("log");
    let file = std::fs::File::create(&log).expect("creating the log file");
    let err = file.try_clone().expect("cloning the log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .expect("spawning sluice");
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        status.is_some_and(|s| !s.success()),
        "sluice did not refuse to start ({status:?}); log:\n{text}"
    );
    text
}

#[test]
fn a_log_that_cannot_be_created_stops_startup_naming_path_and_error() {
    let dir = TempDir::new("unwritable-log");
    // A file where the log's directory must go: creating it fails whoever runs the test
    // (root ignores permissions, not this).
    std::fs::write(dir.path().join("replog"), b"not a directory").expect("writing the file");
    let log = refused_start(dir.path());
    let path = dir.path().join("replog");
    assert!(
        log.contains(&path.display().to_string()),
        "the error does not name {}:\n{log}",
        path.display()
    );
    assert!(
        log.contains("exists") || log.contains("Not a directory"),
        "the error does not give the OS error:\n{log}"
    );
    assert!(
        !log.contains("Ready to accept") || log.contains("Exiting"),
        "{log}"
    );
}

#[test]
fn a_read_only_dir_stops_startup_unless_running_as_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("readonly-dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555))
        .expect("chmod 555");
    // Root writes there anyway: nothing to check then.
    if std::fs::write(dir.path().join("probe"), b"x").is_ok() {
        eprintln!(
            "NOTICE: running as root, a mode-555 dir is writable: only the other checks apply"
        );
        let _ = std::fs::remove_file(dir.path().join("probe"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod 755");
        return;
    }
    let log = refused_start(dir.path());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod 755");
    assert!(log.contains("Permission denied"), "{log}");
}

/// Runs BGSAVE and waits until it ends with `status` (`ok` or `err`).
fn bgsave(server: &ServerProcess, client: &mut Client, status: &str) {
    client.cmd(&["BGSAVE"]);
    let expected = format!("rdb_last_bgsave_status:{status}");
    wait_for(
        LIMIT,
        &format!("BGSAVE to end with {status}"),
        || {
            let info = client.cmd_text(&["INFO", "persistence"]);
            info.contains("rdb_bgsave_in_progress:0") && info.contains(&expected)
        },
        || server.log_text(),
    );
}

/// The replies of the failed-save sequence, for comparison between the two servers.
fn failed_save_sequence(server: &ServerProcess) -> Vec<String> {
    let mut client = server.client();
    let mut replies = Vec::new();
    let mut record = |client: &mut Client, args: &[&str]| {
        let reply = client.cmd(args);
        replies.push(format!(
            "{args:?} -> {}",
            String::from_utf8_lossy(&reply.encode())
        ));
    };
    record(&mut client, &["SET", "before", "1"]);
    // A directory where the file must go: the save fails at its final rename.
    std::fs::create_dir(server.dir().join("dump.rdb")).expect("creating the blocking dir");
    bgsave(server, &mut client, "err");
    record(&mut client, &["SET", "after", "1"]);
    record(&mut client, &["PING"]);
    record(&mut client, &["GET", "before"]);
    record(&mut client, &["MULTI"]);
    record(&mut client, &["SET", "queued", "1"]);
    record(&mut client, &["EXEC"]);
    // Off: writes are accepted although the save still fails.
    record(
        &mut client,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    );
    record(&mut client, &["SET", "while-off", "1"]);
    record(
        &mut client,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    );
    record(&mut client, &["SET", "refused-again", "1"]);
    // A save that succeeds lifts the refusal.
    std::fs::remove_dir(server.dir().join("dump.rdb")).expect("removing the blocking dir");
    bgsave(server, &mut client, "ok");
    record(&mut client, &["SET", "after-recovery", "1"]);
    record(&mut client, &["PING"]);
    replies
}

#[test]
fn a_failed_save_refuses_writes_with_misconf_as_redis_does() {
    let sluice = ServerProcess::sluice(&["--save", "3600 1"]);
    let ours = failed_save_sequence(&sluice);
    assert!(
        ours.iter()
            .any(|r| r.contains("MISCONF Redis is configured to save RDB snapshots")),
        "{ours:#?}"
    );
    if !redis_available("a_failed_save_refuses_writes_with_misconf_as_redis_does") {
        return;
    }
    let redis = ServerProcess::redis(&["--save", "3600 1"]);
    assert_eq!(redis.kind, Kind::Redis);
    let theirs = failed_save_sequence(&redis);
    assert_eq!(ours, theirs, "sluice and redis-server answered differently");
}
