//! Loading `dir/dbfilename` at start-up. The server already accepts connections and
//! answers `-LOADING` to commands that need the data; the file is decoded on a thread of
//! its own into new databases, swapped in only once the whole file loaded. A file that does
//! not load stops the server: serving part of a dataset, or none, as if it were all of it
//! would be worse than not starting.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::load::{LoadOptions, Loaded, Loader};
use super::save::{LoadingProgress, rdb_path};
use crate::server::{Server, State, unix_time_ms};

const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(1);
/// Read size: small enough that INFO's loading progress moves often.
const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Loads the RDB file if there is one, then starts following the configured master (with
/// the file's replication history, so that the first PSYNC can continue it). Exits the
/// process if the file cannot be loaded. Call before serving connections: the server is
/// marked as loading here, so no command can write to the databases the file replaces.
pub fn start(server: &Arc<Server>) {
    let job = begin(server);
    tokio::spawn(load_then_follow(server.clone(), job));
}

type LoadJob = (PathBuf, Arc<LoadingProgress>, LoadOptions);

async fn load_then_follow(server: Arc<Server>, job: Option<LoadJob>) {
    let continue_history = match job {
        None => false,
        Some((path, progress, options)) => {
            let loader_progress = progress.clone();
            let loader_path = path.clone();
            // A plain thread, not the runtime's blocking pool: a shutdown during the load
            // must not wait for it.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("rdb-load".into())
                .spawn(move || {
                    let _ = tx.send(load_file(&loader_path, options, Some(&loader_progress)));
                });
            let result = match spawned {
                Ok(_) => rx
                    .await
                    .unwrap_or_else(|_| Err("the loader thread ended without a result".into())),
                Err(e) => Err(format!("cannot start the loader thread: {e}")),
            };
            match result {
                Ok(loaded) => {
                    let seconds = progress.started.elapsed().as_secs_f64();
                    let mut state = server.state.lock();
                    install(&mut state, loaded, &path, seconds)
                }
                Err(reason) => {
                    tracing::error!(
                        "Fatal error loading the DB file {}: {reason}. Exiting.",
                        path.display()
                    );
                    eprintln!(
                        "Fatal error loading the DB file {}: {reason}. Exiting.",
                        path.display()
                    );
                    std::process::exit(1);
                }
            }
        }
    };
    crate::repl::replica::start_from_config(&server, continue_history);
}

/// Marks the server as loading if the file exists.
fn begin(server: &Server) -> Option<LoadJob> {
    let mut state = server.state.lock();
    let path = rdb_path(&state.config);
    let total_bytes = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        // Unreadable: the loader reports why.
        Err(_) => 0,
    };
    let progress = Arc::new(LoadingProgress {
        started_unix: unix_time_ms() / 1000,
        started: Instant::now(),
        total_bytes,
        loaded_bytes: Default::default(),
    });
    state.loading = true;
    state.persistence.loading = Some(progress.clone());
    tracing::info!("Loading RDB file {} ({total_bytes} bytes)", path.display());
    Some((path, progress, LoadOptions::from_config(&state.config)))
}

/// Reads and decodes the whole file, logging progress every second (and publishing it for
/// INFO when `progress` is given).
pub fn load_file(
    path: &Path,
    options: LoadOptions,
    progress: Option<&LoadingProgress>,
) -> Result<Loaded, String> {
    let total_bytes = match progress {
        Some(p) => p.total_bytes,
        None => std::fs::metadata(path).map_or(0, |m| m.len()),
    };
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut loader = Loader::new(options);
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    let mut read_total = 0u64;
    let mut last_log = Instant::now();
    let mut last_log_bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read error after {read_total} bytes: {e}")),
        };
        if loader.is_done() {
            // Redis stops at the EOF opcode too; what follows is not part of the RDB.
            tracing::warn!(
                "{}: ignoring bytes after the end of the RDB at offset {}",
                path.display(),
                loader.offset()
            );
            break;
        }
        loader.push(&buf[..n]).map_err(|e| e.to_string())?;
        read_total += n as u64;
        if let Some(progress) = progress {
            progress.loaded_bytes.store(read_total, Ordering::Relaxed);
        }
        let since = last_log.elapsed();
        if since >= PROGRESS_LOG_INTERVAL {
            let rate = (read_total - last_log_bytes) as f64 / since.as_secs_f64() / 1e6;
            let percent = if total_bytes > 0 {
                read_total as f64 * 100.0 / total_bytes as f64
            } else {
                0.0
            };
            tracing::info!(
                "Loading RDB {}: {read_total} of {} bytes ({percent:.1}%), {rate:.1} MB/s, {} keys",
                path.display(),
                total_bytes,
                loader.keys()
            );
            last_log = Instant::now();
            last_log_bytes = read_total;
        }
    }
    loader.finish().map_err(|e| e.to_string())
}

/// Swaps the loaded data in and adopts the file's replication history. Returns whether
/// a replica should offer that history to its master (PSYNC <repl-id> <repl-offset+1>).
pub fn install(state: &mut State, loaded: Loaded, path: &Path, seconds: f64) -> bool {
    let Loaded {
        dbs,
        keys,
        keys_already_expired,
        stream_db,
        repl_id,
        repl_offset,
        ..
    } = loaded;
    let old = std::mem::replace(&mut state.dbs, dbs);
    // Nothing could be written while loading: the old databases are empty.
    drop(old);
    state.persistence.last_load_keys_loaded = keys;
    state.persistence.last_load_keys_expired = keys_already_expired;
    state.loading = false;
    state.persistence.loading = None;
    state.expire_cursor = (0, 0);
    tracing::info!(
        keys,
        keys_already_expired,
        "DB loaded from disk: {seconds:.3} seconds ({})",
        path.display()
    );
    let history = repl_id
        .filter(|id| crate::repl::ids::is_valid_replid(id))
        .zip(repl_offset);
    let Some((replid, offset)) = history else {
        return false;
    };
    if state.config.replicaof.is_some() {
        // A replica continues its master's history from where the file left it.
        state.repl.ids.adopt_full(&replid);
        state.repl.log.set_replid(&replid);
        state.repl.log.reset(offset);
        state.repl.log.set_stream_db(stream_db);
        tracing::info!(
            "replication history {replid} at offset {offset} restored: the first PSYNC continues it"
        );
        // Without the stream's selected db a continued stream could not be applied safely.
        stream_db.is_some()
    } else {
        // A restarted master takes a new replid; replicas of its previous incarnation may
        // continue through replid2 up to the recovered offset.
        state.repl.ids.adopt_full(&replid);
        state.repl.log.reset(offset);
        state.repl.ids.shift(offset);
        let new = state.repl.ids.replid.clone();
        state.repl.log.set_replid(&new);
        tracing::info!(
            "replication history {replid} kept as replid2, valid for PSYNC up to offset {offset}; new replid {new}"
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::repl::psync::{PsyncDecision, decide};
    use crate::store::Db;

    fn loaded(replid: &str, offset: u64) -> Loaded {
        Loaded {
            dbs: (0..16).map(|_| Db::new()).collect(),
            keys: 0,
            keys_already_expired: 0,
            empty_keys_skipped: 0,
            stream_db: Some(2),
            repl_id: Some(replid.to_string()),
            repl_offset: Some(offset),
            rdb_version: Some(10),
            rdb_bytes: 0,
        }
    }

    #[test]
    fn a_restarted_master_keeps_its_history_as_replid2() {
        let mut state = State::new(Config::default());
        state.loading = true;
        let old = "a".repeat(40);
        assert!(!install(
            &mut state,
            loaded(&old, 5000),
            Path::new("x"),
            0.0
        ));
        assert!(!state.loading);
        let ids = &state.repl.ids;
        assert_ne!(ids.replid, old);
        assert_eq!(ids.replid2, old);
        assert_eq!(ids.second_replid_offset, 5001);
        assert_eq!(state.repl.log.end_offset(), 5000);
        let log = &state.repl.log;
        assert_eq!(
            decide(&old, "5001", ids, log.start_offset(), log.end_offset()),
            PsyncDecision::Continue { from: 5000 }
        );
        // A replica that holds more than the master kept must resync in full.
        assert!(matches!(
            decide(&old, "5002", ids, log.start_offset(), log.end_offset()),
            PsyncDecision::FullResync(_)
        ));
    }

    #[test]
    fn a_restarted_replica_offers_the_files_history() {
        let mut config = Config::default();
        config.replicaof = Some(("127.0.0.1".into(), 7289));
        let mut state = State::new(config);
        let master = "b".repeat(40);
        assert!(install(
            &mut state,
            loaded(&master, 777),
            Path::new("x"),
            0.0
        ));
        assert_eq!(state.repl.ids.replid, master);
        assert_eq!(state.repl.log.end_offset(), 777);
        assert_eq!(state.repl.log.stream_db(), Some(2));
    }

    #[test]
    fn a_file_without_history_changes_nothing() {
        let mut state = State::new(Config::default());
        let before = state.repl.ids.clone();
        let mut l = loaded("c", 1);
        l.repl_id = None;
        assert!(!install(&mut state, l, Path::new("x"), 0.0));
        assert_eq!(state.repl.ids, before);
    }
}
