//! The reference programs the tests run beside sluice (Debian's redis-server, redis-tools and
//! redis-sentinel, Redis 7.0, and prometheus-redis-exporter). On a fresh machine the first test that needs one installs
//! them, once for every test process (a lock file serialises the test binaries), when it
//! runs as root with apt-get; otherwise it fails naming the exact command to run.
//! `SLUICE_SKIP_REDIS=1` skips the tests that need them instead, with a notice.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Debian's packages and a program of each that must exist once installed.
const PACKAGES: [(&str, &str); 4] = [
    ("redis-server", "/usr/bin/redis-server"),
    ("redis-tools", "/usr/bin/redis-cli"),
    ("redis-sentinel", "/usr/bin/redis-sentinel"),
    // What a Prometheus setup scrapes Redis with (tests/exporter.rs).
    (
        "prometheus-redis-exporter",
        "/usr/bin/prometheus-redis-exporter",
    ),
];
const LOCK_FILE: &str = "/tmp/sluice-tests-install.lock";

fn missing() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .filter(|(_, program)| !Path::new(program).exists())
        .map(|(package, _)| *package)
        .collect()
}

/// Whether the reference programs are installed, installing them first where the test run
/// can. Err names what is missing and how to install it.
pub fn ensure_installed() -> Result<(), String> {
    static OUTCOME: OnceLock<Result<(), String>> = OnceLock::new();
    OUTCOME.get_or_init(install_if_missing).clone()
}

fn install_if_missing() -> Result<(), String> {
    if missing().is_empty() {
        return Ok(());
    }
    let command = format!("apt-get install -y {}", missing().join(" "));
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "the tests need Debian's {} (Redis 7.0); install them with: sudo {command}",
            missing().join(", ")
        ));
    }
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_FILE)
        .map_err(|e| format!("opening {LOCK_FILE}: {e}"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; released when `lock` is dropped.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "locking {LOCK_FILE}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // Another test process may have installed them while this one waited for the lock.
    let still_missing = missing();
    if still_missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "NOTICE: installing {} for the tests",
        still_missing.join(" ")
    );
    let update = Command::new("apt-get").args(["update", "-qq"]).status();
    let install = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&still_missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    match (update, install) {
        (_, Ok(status)) if status.success() && missing().is_empty() => Ok(()),
        (_, Ok(status)) => Err(format!("`{command}` failed ({status})")),
        (_, Err(e)) => Err(format!("running apt-get: {e}")),
    }
}
