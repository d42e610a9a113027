//! Stock redis-sentinel processes for the failover tests, and a writer whose batches count
//! as acknowledged only when `WAIT 1 100` says a replica has them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Client, Resp, START_TIMEOUT, TempDir, encode_command, free_port};

pub const SENTINEL: &str = "/usr/bin/redis-sentinel";
pub const MASTER_NAME: &str = "mymaster";

/// Whether redis-sentinel can run (installed first where the test run can; see
/// [`super::tools`]).
pub fn sentinel_available(test: &str) -> bool {
    super::reference_available(test, Path::new(SENTINEL))
}

/// One redis-sentinel watching `MASTER_NAME`; killed on drop.
pub struct Sentinel {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl Sentinel {
    /// Starts a sentinel that monitors 127.0.0.1:`master_port` with the given quorum and
    /// `down-after-milliseconds`.
    pub fn start(master_port: u16, quorum: u32, down_after_ms: u64) -> Sentinel {
        let mut last_error = String::new();
        for _ in 0..5 {
            match Self::try_start(master_port, quorum, down_after_ms) {
                Ok(s) => return s,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-sentinel: {last_error}");
    }

    fn try_start(master_port: u16, quorum: u32, down_after_ms: u64) -> Result<Sentinel, String> {
        let port = free_port();
        let dir = TempDir::new("sentinel");
        let config = dir.path().join("sentinel.conf");
        // Sentinel rewrites its own file as it learns the topology, so it must be writable.
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\nlogfile \"\"\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}\n\
                 sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}\n\
                 sentinel failover-timeout {MASTER_NAME} 10000\n\
                 sentinel parallel-syncs {MASTER_NAME} 1\n",
                dir = dir.path().display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("sentinel.log")).map_err(|e| e.to_string())?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(SENTINEL)
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning {SENTINEL}: {e}"))?;
        let mut sentinel = Sentinel { port, child, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = sentinel.child.try_wait() {
                return Err(format!(
                    "sentinel exited ({status}): {}",
                    sentinel.log_text()
                ));
            }
            if let Ok(mut client) = Client::try_connect(port)
                && client
                    .cmd_raw_io(&["PING"])
                    .is_ok_and(|r| r.starts_with(b"+PONG"))
            {
                // The port may belong to someone else's sentinel: check it is ours.
                let info = client.cmd_text(&["INFO", "server"]);
                if super::info_field(&info, "process_id")
                    .is_some_and(|pid| pid == sentinel.child.id().to_string())
                {
                    return Ok(sentinel);
                }
                return Err(format!("port {port} is served by another process"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "sentinel on {port} did not answer: {}",
            sentinel.log_text()
        ))
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sentinel.log")).unwrap_or_default()
    }

    /// `SENTINEL get-master-addr-by-name`: the port of the master as this sentinel sees it.
    pub fn master_port(&self) -> Option<u16> {
        let mut client = Client::try_connect(self.port).ok()?;
        let reply = client
            .cmd_raw_io(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME])
            .ok()?;
        let (value, _) = super::parse_reply(&reply).ok()??;
        let items = value.items()?;
        items.get(1)?.text()?.parse().ok()
    }

    /// A field of `SENTINEL MASTER <name>` (num-slaves, num-other-sentinels, flags …).
    pub fn master_field(&self, field: &str) -> Option<String> {
        let mut client = Client::try_connect(self.port).ok()?;
        let reply = client
            .cmd_raw_io(&["SENTINEL", "MASTER", MASTER_NAME])
            .ok()?;
        let (value, _) = super::parse_reply(&reply).ok()??;
        let items = value.items()?;
        items
            .chunks(2)
            .find(|pair| pair[0].text().as_deref() == Some(field))
            .and_then(|pair| pair.get(1)?.text())
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sentinel.conf")
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes batches of `ack:<n>` keys to one master; after each batch it sends `WAIT 1 100`,
/// and the batch counts as acknowledged only if at least one replica had it. Stops when the
/// master goes away.
pub struct AckedWriter {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<u64>>>,
    thread: Option<JoinHandle<()>>,
}

pub const ACK_BATCH: u64 = 10;

impl AckedWriter {
    /// Starts writing at sequence number `from` (so that a second writer on a new master
    /// writes keys of its own).
    pub fn start(port: u16, from: u64) -> AckedWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = stop.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                let Ok(mut client) = Client::try_connect(port) else {
                    return;
                };
                client.set_timeout(Duration::from_secs(5));
                let mut seq = from;
                while !stop.load(Ordering::Relaxed) {
                    let mut bytes = Vec::new();
                    for n in seq..seq + ACK_BATCH {
                        bytes.extend_from_slice(&encode_command(&[
                            "SET".to_string(),
                            format!("ack:{n}"),
                            format!("value-{n}"),
                        ]));
                    }
                    bytes.extend_from_slice(&encode_command(&["WAIT", "1", "100"]));
                    if client.send_raw(&bytes).is_err() {
                        return;
                    }
                    let mut all_ok = true;
                    for _ in 0..ACK_BATCH {
                        match client.read() {
                            Ok(Resp::Simple(s)) if s == b"OK" => {}
                            Ok(_) => all_ok = false,
                            Err(_) => return,
                        }
                    }
                    match client.read() {
                        Ok(Resp::Integer(n)) if n >= 1 && all_ok => {
                            if let Ok(mut acked) = acknowledged.lock() {
                                acked.push(seq);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                    seq += ACK_BATCH;
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        AckedWriter {
            stop,
            acknowledged,
            thread: Some(thread),
        }
    }

    /// The first sequence numbers of the acknowledged batches so far.
    pub fn acknowledged_batches(&self) -> Vec<u64> {
        self.acknowledged
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// Stops, waits for the thread and returns the acknowledged batches.
    pub fn stop(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.acknowledged_batches()
    }
}

impl Drop for AckedWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The acknowledged keys missing on the server at `port` (at most 10 named).
pub fn missing_acknowledged(port: u16, batches: &[u64]) -> Vec<String> {
    let mut client = Client::connect(port);
    let mut missing = Vec::new();
    for &start in batches {
        for n in start..start + ACK_BATCH {
            let key = format!("ack:{n}");
            if client.cmd(&["GET", &key]) != Resp::Bulk(format!("value-{n}").into_bytes()) {
                missing.push(key);
                if missing.len() >= 10 {
                    return missing;
                }
            }
        }
    }
    missing
}
