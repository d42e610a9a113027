//! A disk that fills up under `repl-log-fsync always`: writes get -MISCONF while the log
//! cannot be written, replies already promised wait for it (never a `+OK` for a write that
//! is not on disk), and once space is freed the log continues without a hole. A kill -9
//! after that loses no acknowledged write.
//!
//! Needs a small filesystem of its own: a tmpfs mounted for the test (root and mount
//! permission); the test says so and skips when it cannot mount one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::acked::{AckedWriters, assert_acknowledged_present};
use common::compare::{info_field, wait_for, wait_loaded};
use common::{Client, ServerProcess, TempDir};

const LIMIT: Duration = Duration::from_secs(60);
const FS_BYTES: u64 = 48 << 20;

/// A tmpfs of [`FS_BYTES`], unmounted on drop.
struct SmallDisk {
    mount: PathBuf,
    _dir: TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = TempDir::new("small-disk");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FS_BYTES}"), "tmpfs"])
            .arg(&mount)
            .status()
            .ok()?;
        status.success().then_some(SmallDisk { mount, _dir: dir })
    }

    fn path(&self) -> &Path {
        &self.mount
    }

    /// Fills the filesystem, leaving about `left` bytes free.
    fn fill(&self, left: u64) -> PathBuf {
        let filler = self.mount.join("filler");
        let stat = nix_free_bytes(&self.mount);
        let len = stat.saturating_sub(left);
        std::fs::write(&filler, vec![0u8; usize::try_from(len).unwrap()])
            .expect("writing the filler");
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

fn nix_free_bytes(path: &Path) -> u64 {
    let output = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("running df");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// A SET on a new connection: its reply, or "held" when none came within a second (a write
/// accepted just before the log failed waits for the disk, as a promised reply must).
fn set_reply(port: u16, key: &str) -> String {
    let mut client = Client::connect(port);
    client.set_timeout(Duration::from_secs(1));
    match client.cmd_raw_io(&["SET", key, "v"]) {
        Ok(reply) => String::from_utf8_lossy(&reply).into_owned(),
        Err(_) => "held".into(),
    }
}

#[test]
fn a_full_disk_refuses_writes_then_continues_without_losing_any() {
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("NOTICE: crash_full_disk skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let dir = disk.path().display().to_string();
    let mut server = ServerProcess::sluice(&[
        "--dir",
        &dir,
        "--repl-log-fsync",
        "always",
        "--repl-log-snapshot-size",
        "0",
    ]);
    let filler = disk.fill(4 << 20);
    let writers = AckedWriters::start(server.port, "full", 4, 16, 4096);
    let mut probe = server.client();
    let mut refused = String::new();
    wait_for(
        LIMIT,
        "writes to be refused on the full disk",
        || {
            refused = set_reply(server.port, "probe");
            refused.starts_with("-MISCONF")
        },
        || server.log_text(),
    );
    assert!(
        refused.contains("No space left on device"),
        "the refusal names the OS error: {refused}"
    );
    assert_eq!(
        info_field(&mut probe, "replication", "repl_log_status").as_deref(),
        Some("err"),
        "INFO does not show the log's failure"
    );
    // Reads go on meanwhile.
    assert!(!probe.cmd(&["DBSIZE"]).is_error());
    std::thread::sleep(Duration::from_millis(500));
    std::fs::remove_file(&filler).expect("freeing the disk");
    let freed = Instant::now();
    wait_for(
        LIMIT,
        "writes to be accepted again",
        || set_reply(server.port, "probe") == "+OK\r\n",
        || server.log_text(),
    );
    eprintln!(
        "writes accepted {:?} after the space was freed",
        freed.elapsed()
    );
    // More writes on a fresh set of connections (the first writers stopped at -MISCONF).
    let after = AckedWriters::start(server.port, "after", 2, 16, 4096);
    after.wait_acknowledged(200, LIMIT);
    server.kill9();
    let mut acked = writers.join();
    for writer in &acked {
        eprintln!(
            "{}: {} acknowledged, ended by {:?}",
            writer.prefix,
            writer.count(),
            writer.ended_by
        );
    }
    acked.extend(after.join());
    server.restart();
    wait_loaded(&server);
    let mut client = server.client();
    assert_acknowledged_present(&mut client, &acked, "after the full disk and a kill -9");
}
