//! Loading `dir/dbfilename` at start-up. The server already accepts connections and
//! answers `-LOADING` to commands that need the data; the file is decoded on a thread of
//! its own into new databases, swapped in only once the whole file loaded. A file that does
//! not load stops the server: serving part of a dataset, or none, as if it were all of it
//! would be worse than not starting.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::replay;
use crate::durable::meta::LogBase;
use crate::durable::recovery::{self, Data, LogView, Plan, RdbHistory};
use crate::durable::sled_store::SledStore;
use crate::durable::store::StoreError;
use crate::durable::{DurableLog, Opened};
use crate::log::{ReplId, ReplIds};
use crate::server::{Server, State, unix_time_ms};
use crate::snapshot::load::{LoadOptions, Loaded};
use crate::snapshot::save::{LoadingProgress, rdb_path};

/// sled's page cache: the log's hot part is in memory already, this only serves lagging
/// replicas and keeps recent pages.
const STORE_CACHE_BYTES: u64 = 64 << 20;

/// Opens the durable replication log, loads the RDB file if there is one, replays the log
/// onto it, then starts following the configured master (with the recovered history, so that
/// the first PSYNC can continue it). Exits the process if the file cannot be loaded. Call
/// before serving connections: the server is marked as loading here, so no command can write
/// to the databases the file and the log replace.
pub fn start(server: &Arc<Server>) {
    crate::repl::role::configured_before_start(server);
    {
        let mut state = server.state.lock();
        let engine = crate::fanout::Engine::choose(state.config.repl_io_engine);
        tracing::info!(engine = engine.name(), "full-sync sender");
        state.repl.io_engine = engine;
    }
    let data_dir = {
        let state = server.state.lock();
        rdb_path(&state.config)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    remove_stale_temp_files(&data_dir);
    let durable = open_durable(server);
    // With a durable log the server stays loading until recovery attached it, even with
    // nothing to replay: a write accepted before would reach the keyspace but not the log
    // (the log restarts at recovery), and a restart would then lose it.
    let job = begin(server, durable.is_some());
    tokio::spawn(load_then_follow(server.clone(), job, durable));
}

/// The process id in the name of a temporary RDB file: sluice's `temp-<pid>-<n>.rdb`,
/// Redis's `temp-<pid>.rdb` (BGSAVE) and `temp-<unixtime>.<pid>.rdb` (a replica's copy).
fn temp_file_pid(name: &str) -> Option<u32> {
    let middle = name.strip_prefix("temp-")?.strip_suffix(".rdb")?;
    let pid = match (middle.split_once('-'), middle.split_once('.')) {
        (Some((pid, sequence)), None) if sequence.bytes().all(|b| b.is_ascii_digit()) => pid,
        (None, Some((time, pid))) if time.bytes().all(|b| b.is_ascii_digit()) => pid,
        (None, None) => middle,
        _ => return None,
    };
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Removes the temporary RDB files a killed save left in `dir` (a kill -9 in the middle of
/// BGSAVE leaves one as large as the dataset). A file whose process is still alive may
/// belong to another server sharing the directory: it is left alone.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        let alive = pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists();
        if alive || pid == std::process::id() {
            continue;
        }
        let path = entry.path();
        let bytes = entry.metadata().map_or(0, |m| m.len());
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::warn!(
                "removed {} ({bytes} bytes), left by a save that did not finish",
                path.display()
            ),
            Err(e) => tracing::warn!("cannot remove the stale {}: {e}", path.display()),
        }
    }
}

type LoadJob = (PathBuf, Arc<LoadingProgress>, LoadOptions);
type OpenedLog = (Arc<DurableLog>, Opened);

/// Opens `dir/repl-log-dir`. A store whose contents are damaged is moved aside (kept for
/// inspection) and a new one started: its history is lost, replicas resync in full, but
/// the server starts. One that cannot be created or written stops start-up. None when the
/// log is configured off.
fn open_durable(server: &Server) -> Option<OpenedLog> {
    let (path, fsync) = {
        let state = server.state.lock();
        if state.config.repl_log_dir.is_empty() {
            return None;
        }
        let dir = rdb_path(&state.config)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        (
            dir.join(&state.config.repl_log_dir),
            state.config.repl_log_fsync,
        )
    };
    // A log that cannot be created or written is fatal, as an AOF that cannot be opened is
    // for Redis: serving writes that would be lost at the next restart, with replies that
    // promise otherwise, is worse than not starting.
    if let Err(e) = std::fs::create_dir_all(&path) {
        fatal_log_error(&path, &e.to_string());
    }
    let open = |path: &Path| -> Result<OpenedLog, StoreError> {
        let store = SledStore::open(path, STORE_CACHE_BYTES)?;
        let (log, opened) = DurableLog::open(Arc::new(store), fsync)?;
        Ok((Arc::new(log), opened))
    };
    let started = Instant::now();
    let result = match open(&path) {
        Ok(opened) => Ok(opened),
        Err(e @ (StoreError::Io { .. } | StoreError::Refused(_))) => {
            fatal_log_error(&path, &e.to_string())
        }
        Err(reason) => {
            let aside = path.with_file_name(format!(
                "{}.damaged-{}",
                path.file_name()
                    .map_or("replog".into(), |n| n.to_string_lossy()),
                unix_time_ms()
            ));
            tracing::error!(
                "replication log {} does not open ({reason}); moved to {} and starting a new one: replicas will resync in full",
                path.display(),
                aside.display()
            );
            match std::fs::rename(&path, &aside) {
                Ok(()) => open(&path).map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot move it aside: {e}")),
            }
        }
    };
    match result {
        Ok((log, opened)) => {
            tracing::info!(
                path = %path.display(),
                start = opened.start,
                end = opened.end,
                fsync = fsync.name(),
                seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
                "replication log opened"
            );
            Some((log, opened))
        }
        Err(reason) => fatal_log_error(&path, &reason),
    }
}

/// Stops start-up: the durable log at `path` cannot be used.
fn fatal_log_error(path: &Path, reason: &str) -> ! {
    let message = format!(
        "Can't open the replication log {}: {reason}. Exiting. (Fix the directory's permissions or space, or set repl-log-dir \"\" to run without a durable log.)",
        path.display()
    );
    tracing::error!("{message}");
    eprintln!("{message}");
    std::process::exit(1);
}

async fn load_then_follow(server: Arc<Server>, job: Option<LoadJob>, durable: Option<OpenedLog>) {
    let loaded = match job {
        None => None,
        Some((path, progress, options)) if path.exists() || progress.total_bytes > 0 => {
            let loader_progress = progress.clone();
            let loader_path = path.clone();
            // A plain thread, not the runtime's blocking pool: a shutdown during the load
            // must not wait for it.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("rdb-load".into())
                .spawn(move || {
                    let _ = tx.send(crate::snapshot::load::load_file(
                        &loader_path,
                        options,
                        Some(&loader_progress),
                    ));
                });
            let result = match spawned {
                Ok(_) => rx
                    .await
                    .unwrap_or_else(|_| Err("the loader thread ended without a result".into())),
                Err(e) => Err(format!("cannot start the loader thread: {e}")),
            };
            match result {
                Ok(loaded) => Some((loaded, path, progress.started.elapsed().as_secs_f64())),
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
        Some(_) => None,
    };
    let continue_history = match durable {
        None => match loaded {
            Some((loaded, path, seconds)) => {
                let mut state = server.state.lock();
                install(&mut state, loaded, &path, seconds)
            }
            None => {
                server.state.lock().loading = false;
                false
            }
        },
        Some(durable) => {
            let recovering = server.clone();
            // Replay executes commands for as long as the log since the snapshot is: on a
            // thread of its own, taking the lock a batch at a time.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("log-replay".into())
                .spawn(move || {
                    let _ = tx.send(recover(&recovering, loaded, durable));
                });
            match spawned {
                Ok(_) => rx.await.unwrap_or(false),
                Err(e) => {
                    tracing::error!("cannot start the replay thread: {e}. Exiting.");
                    std::process::exit(1);
                }
            }
        }
    };
    crate::repl::role::start_from_config(&server, continue_history);
}

/// Marks the server as loading if there is a file to load or a durable log to recover.
fn begin(server: &Server, log_to_replay: bool) -> Option<LoadJob> {
    let mut state = server.state.lock();
    let path = rdb_path(&state.config);
    let total_bytes = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !log_to_replay => return None,
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
    if path.exists() {
        tracing::info!("Loading RDB file {} ({total_bytes} bytes)", path.display());
    }
    Some((path, progress, LoadOptions::from_config(&state.config)))
}

/// Installs the loaded file (if any), replays the durable log onto it where the plan allows,
/// and settles the replication ids: a replica keeps its master's history at the recovered
/// offset, a master starts a new history with the recovered one as replid2. Returns whether
/// a replica should offer that history to its master.
fn recover(
    server: &Server,
    loaded: Option<(Loaded, PathBuf, f64)>,
    (durable, opened): OpenedLog,
) -> bool {
    let rdb_file = loaded.is_some();
    let rdb_history = loaded.as_ref().and_then(|(l, _, _)| {
        l.repl_id
            .as_deref()
            .and_then(ReplId::parse_str)
            .zip(l.repl_offset)
            .map(|(replid, offset)| RdbHistory { replid, offset })
    });
    let rdb_stream_db = loaded.as_ref().and_then(|(l, _, _)| l.stream_db);
    let meta = opened.meta.clone();
    let candidate = recovery::candidate_base(rdb_file, rdb_history.as_ref(), meta.as_ref());
    let (before, after) = candidate.map_or((None, None), |offset| records_around(&durable, offset));
    let plan = recovery::plan(
        rdb_file,
        rdb_history.as_ref(),
        &LogView {
            meta: meta.as_ref(),
            start: opened.start,
            end: opened.end,
            replid_before: before,
            replid_after: after,
        },
    );
    if let Some((loaded, path, seconds)) = loaded {
        let mut state = server.state.lock();
        install_data(&mut state, loaded, &path, seconds);
    }
    let is_replica = server.state.lock().config.replicaof.is_some();
    match plan {
        Plan::Replay { data, from } => {
            let db = match data {
                Data::Rdb => rdb_stream_db,
                Data::Empty => None,
            };
            let outcome = replay::replay(server, &durable, from, db);
            let meta =
                meta.unwrap_or_else(|| unreachable!("a replay plan needs the log's metadata"));
            let history: ReplId = outcome
                .replid
                .or_else(|| rdb_history.as_ref().map(|h| h.replid))
                .unwrap_or(meta.base.replid);
            let mut state = server.state.lock();
            state.repl.log.reset(outcome.end);
            state.repl.log.set_stream_db(outcome.stream_db);
            state.repl.ids = if meta.ids.replid == history {
                meta.ids.clone()
            } else {
                ReplIds {
                    replid: history,
                    ..ReplIds::new_random()
                }
            };
            state.repl.ids.replid2 = if meta.ids.replid == history {
                meta.ids.replid2
            } else {
                ReplId::ZERO
            };
            state.repl.durable = Some(durable.clone());
            finish_ids(&mut state, is_replica, outcome.end);
            state.loading = false;
            state.persistence.loading = None;
            tracing::info!(
                offset = outcome.end,
                replid = %history,
                commands = outcome.commands,
                "replication history recovered from the durable log"
            );
            is_replica && outcome.stream_db.is_some()
        }
        Plan::Fresh {
            data,
            offset,
            replid,
            reason,
        } => {
            if let Some(reason) = &reason {
                tracing::error!(
                    "replication log not replayed: {reason}. Starting a new log at offset {offset}: replicas that cannot continue resync in full"
                );
            }
            let mut state = server.state.lock();
            let known_history = replid.is_some();
            let replid = replid.unwrap_or_else(ReplId::random);
            state.repl.durable = Some(durable.clone());
            let stream_db = match data {
                Data::Rdb => rdb_stream_db,
                Data::Empty => None,
            };
            state.repl.restart_history(replid, offset, stream_db);
            if data == Data::Empty {
                // An empty dataset is its own snapshot: the log replays onto nothing.
                durable.set_base(LogBase {
                    offset,
                    replid,
                    empty: true,
                });
            }
            if known_history {
                finish_ids(&mut state, is_replica, offset);
            } else {
                // Nothing to continue: a new history without a previous one.
                state.repl.persist_ids();
            }
            state.loading = false;
            state.persistence.loading = None;
            is_replica && rdb_history.is_some() && stream_db.is_some()
        }
    }
}

/// The ids after recovery, made durable before any write under them: a master takes a new
/// replid (its recovered history stays valid for PSYNC up to `end`), a replica keeps its
/// master's.
fn finish_ids(state: &mut State, is_replica: bool, end: u64) {
    if !is_replica {
        let old = state.repl.ids.replid;
        state.repl.ids.shift(end);
        let new = state.repl.ids.replid;
        state.repl.log.set_replid(new);
        tracing::info!(
            "replication history {old} kept as replid2, valid for PSYNC up to offset {end}; new replid {new}"
        );
    } else {
        let replid = state.repl.ids.replid;
        state.repl.log.set_replid(replid);
    }
    state.repl.persist_ids();
    if let Some(durable) = &state.repl.durable
        && let Err(e) = durable.flush(Duration::from_secs(30))
    {
        tracing::error!("cannot make the new replication ids durable: {e}");
    }
}

/// Replids of the records that end at and start at `offset`, for the recovery plan.
fn records_around(durable: &DurableLog, offset: u64) -> (Option<ReplId>, Option<ReplId>) {
    let before = offset
        .checked_sub(1)
        .and_then(|o| durable.read_records(o, 1).ok())
        .and_then(|r| r.into_iter().next())
        .filter(|r| r.end_offset() == offset)
        .map(|r| r.replid);
    let after = durable
        .read_records(offset, 1)
        .ok()
        .and_then(|r| r.into_iter().next())
        .filter(|r| r.start_offset == offset)
        .map(|r| r.replid);
    (before, after)
}

/// Swaps the loaded data in (the server stays marked as loading).
fn install_data(state: &mut State, loaded: Loaded, path: &Path, seconds: f64) {
    let watch = std::sync::Arc::default();
    state.functions = crate::script::library::from_codes(&loaded.functions, &watch);
    let old = std::mem::replace(&mut state.dbs, loaded.dbs);
    // Nothing could be written while loading: the old databases are empty.
    drop(old);
    state.persistence.last_load_keys_loaded = loaded.keys;
    state.persistence.last_load_keys_expired = loaded.keys_already_expired;
    state.expire_cursor = (0, 0);
    tracing::info!(
        keys = loaded.keys,
        keys_already_expired = loaded.keys_already_expired,
        "DB loaded from disk: {seconds:.3} seconds ({})",
        path.display()
    );
}

/// Without a durable log: swaps the loaded data in and adopts the file's replication
/// history. Returns whether a replica should offer that history to its master
/// (PSYNC <repl-id> <repl-offset+1>).
pub fn install(state: &mut State, mut loaded: Loaded, path: &Path, seconds: f64) -> bool {
    let stream_db = loaded.stream_db;
    let repl_id = loaded.repl_id.take();
    let repl_offset = loaded.repl_offset;
    install_data(state, loaded, path, seconds);
    state.loading = false;
    state.persistence.loading = None;
    let history = repl_id
        .as_deref()
        .and_then(ReplId::parse_str)
        .zip(repl_offset);
    let Some((replid, offset)) = history else {
        return false;
    };
    if state.config.replicaof.is_some() {
        // A replica continues its master's history from where the file left it.
        state.repl.ids.adopt_full(replid);
        state.repl.log.set_replid(replid);
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
        state.repl.ids.adopt_full(replid);
        state.repl.log.reset(offset);
        state.repl.ids.shift(offset);
        let new = state.repl.ids.replid;
        state.repl.log.set_replid(new);
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
    use crate::log::psync::{PsyncDecision, decide};
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
            functions: Vec::new(),
        }
    }

    #[test]
    fn temporary_rdb_names_of_sluice_and_redis_are_recognised() {
        assert_eq!(temp_file_pid("temp-1234-7.rdb"), Some(1234));
        assert_eq!(temp_file_pid("temp-1234.rdb"), Some(1234));
        assert_eq!(temp_file_pid("temp-1700000000.1234.rdb"), Some(1234));
        for other in [
            "dump.rdb",
            "temp-.rdb",
            "temp-abc.rdb",
            "temp-12-x.rdb",
            "temp-1234.rdb.bak",
            "mytemp-1234.rdb",
            "temp-1-2-3.rdb",
        ] {
            assert_eq!(temp_file_pid(other), None, "{other}");
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
        assert_ne!(ids.replid.as_str(), old);
        assert_eq!(ids.replid2.as_str(), old);
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
        assert_eq!(state.repl.ids.replid.as_str(), master);
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
