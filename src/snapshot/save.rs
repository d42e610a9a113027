//! Writing snapshots to `dir/dbfilename`: SAVE, BGSAVE, the `save <seconds> <changes>` rules,
//! the save FLUSHALL and SHUTDOWN do, and the copy a replica keeps of its master's data.
//!
//! Every save takes a point-in-time view under the lock (pointer copies, see
//! snapshot::view) and encodes it on a thread of its own, so the server keeps serving while
//! the file is written; only the saves Redis makes synchronous by nature (FLUSHALL, DEBUG
//! RELOAD, the final save before exit) hold the lock until the file is on disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sluice_rdb::EncoderOptions;

use crate::config::Config;
use crate::resp::Reply;
use crate::server::clients::Outbound;
use crate::server::{Server, State, unix_time_ms};
use crate::snapshot::view::{self as snapshot, Snapshot};

pub const RDB_CHUNK_BYTES: usize = 1 << 20;
/// After a failed save, the `save` rules wait this long before trying again, unless the
/// last attempt succeeded (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_SECS: u64 = 5;
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(1);
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// One writer of RDB files at a time: two saves racing on the same target would each
/// rename a complete file into place, but a reader opening the path between the two
/// renames (a disk-mode full sync) must get the file it was told about.
static FILE_WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());
static TEMP_SEQUENCE: AtomicU64 = AtomicU64::new(0);

pub use crate::server::persistence::{ActiveSave, LoadingProgress, Persistence, SaveKind};

/// `dir` as given at start-up, which the process changed into (as Redis does).
static STARTUP_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Start-up changed the working directory into `dir`.
pub fn set_startup_dir(dir: &Path) {
    let _ = STARTUP_DIR.set(dir.to_path_buf());
}

/// The RDB file of this configuration, as an absolute path (for messages and for threads
/// that must not depend on the working directory). A relative `dir` is the one start-up
/// changed into when it is still the configured one, else relative to that.
pub fn rdb_path(config: &Config) -> PathBuf {
    let dir = if config.dir.is_absolute() {
        config.dir.clone()
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        if STARTUP_DIR.get().is_some_and(|d| *d == config.dir) {
            cwd
        } else {
            cwd.join(&config.dir)
        }
    };
    dir.join(&config.dbfilename)
}

pub fn encoder_options() -> EncoderOptions {
    EncoderOptions {
        chunk_size_bytes: RDB_CHUNK_BYTES,
        ..EncoderOptions::default()
    }
}

/// Writes the snapshot to `path` through a temporary file that is fsynced and renamed into
/// place, so a crash never leaves a half-written RDB under the real name. Returns the size.
/// `cancel` stops the write early (the temporary file is removed).
pub fn write_rdb_file(
    snap: &Snapshot,
    options: EncoderOptions,
    path: &Path,
    cancel: Option<&AtomicBool>,
) -> Result<u64, String> {
    write_observed(snap, options, path, cancel, None, |_| Ok(()), |_| {})
}

/// [`write_rdb_file`] for readers that follow the file while it is written (disk-mode full
/// syncs): `created` gets the new file's handle before the first byte, `written` the size
/// after each chunk. The handle stays valid after the rename, so readers read exactly this
/// snapshot even if a later save renames another file over the path.
pub fn write_observed(
    snap: &Snapshot,
    options: EncoderOptions,
    path: &Path,
    cancel: Option<&AtomicBool>,
    mut ring: Option<&mut crate::fanout::RingWriter>,
    created: impl FnOnce(&std::fs::File) -> Result<(), String>,
    mut written: impl FnMut(u64),
) -> Result<u64, String> {
    let _writer = FILE_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
    let sequence = TEMP_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!("temp-{}-{sequence}.rdb", std::process::id()));
    // Readable too: readers of a disk-mode full sync follow it through a copy of this handle.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    if let Err(reason) = created(&file) {
        let _ = std::fs::remove_file(&tmp);
        return Err(reason);
    }
    let started = Instant::now();
    let mut last_log = started;
    let mut len = 0u64;
    let mut failure: Option<String> = None;
    let encoded = snapshot::encode(snap, options, |chunk| {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            failure = Some("cancelled".into());
            return false;
        }
        let result = match ring.as_deref_mut() {
            Some(ring) => ring.write_all_at(&file, &chunk, len),
            None => file.write_all(&chunk),
        };
        if let Err(e) = result {
            failure = Some(format!("writing {}: {e}", tmp.display()));
            return false;
        }
        len += chunk.len() as u64;
        written(len);
        if last_log.elapsed() >= PROGRESS_LOG_INTERVAL {
            last_log = Instant::now();
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(
                "saving {}: {len} bytes written, {:.1} MB/s, {} keys in the snapshot",
                path.display(),
                len as f64 / 1e6 / seconds.max(1e-9),
                snap.keys
            );
        }
        true
    });
    let outcome = match (failure, encoded) {
        (Some(reason), _) => Err(reason),
        (None, Err(e)) => Err(format!("encoding the snapshot: {e}")),
        (None, Ok(_)) => file
            .sync_all()
            .map_err(|e| format!("fsync {}: {e}", tmp.display())),
    };
    drop(file);
    if let Err(reason) = outcome {
        let _ = std::fs::remove_file(&tmp);
        return Err(reason);
    }
    // The file becomes the durable log's replay base only once the log holds everything up
    // to its offset; a file ahead of the log could not be continued after a crash.
    let base_ready = match &snap.durable {
        Some(durable) if durable.durable_end() < snap.offset => {
            match durable.flush(LOG_FLUSH_TIMEOUT) {
                Ok(end) if end >= snap.offset => true,
                Ok(end) => {
                    tracing::warn!(
                        "replication log durable only up to {end}, the snapshot is at {}: not recorded as the replay base",
                        snap.offset
                    );
                    false
                }
                Err(e) => {
                    tracing::warn!("replication log flush before the snapshot failed: {e}");
                    false
                }
            }
        }
        Some(_) => true,
        None => false,
    };
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "renaming {} to {}: {e}",
            tmp.display(),
            path.display()
        ));
    }
    // The rename itself is durable only once the directory is.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
    if base_ready && let Some(durable) = &snap.durable {
        durable.set_base(crate::durable::meta::LogBase {
            offset: snap.offset,
            replid: snap.replid,
            empty: false,
        });
    }
    Ok(len)
}

/// Takes the snapshot. Effects it sealed into the log are announced to replica streams
/// here: the end of the batch will find nothing left to seal, hence nothing to announce.
fn take_snapshot(server: &Server, state: &mut State) -> Snapshot {
    let snap = snapshot::take(state);
    if !state.repl.replicas.is_empty() {
        server.repl_offset.send_replace(snap.offset);
    }
    snap
}

/// Whether a save may start now: none is running and the data is not being loaded.
fn refusal(state: &State) -> Option<&'static str> {
    if state.persistence.active.is_some() {
        return Some("ERR Background save already in progress");
    }
    if state.loading {
        return Some("LOADING Redis is loading the dataset in memory");
    }
    None
}

/// Starts a save of the current dataset on its own thread (BGSAVE, SAVE with `waiter`, the
/// save rules). Err carries the error reply.
pub fn start(
    server: &Server,
    state: &mut State,
    kind: SaveKind,
    waiter: Option<u64>,
) -> Result<(), &'static str> {
    if let Some(refused) = refusal(state) {
        return Err(refused);
    }
    let snap = take_snapshot(server, state);
    let path = rdb_path(&state.config);
    let persistence = &mut state.persistence;
    persistence.generation += 1;
    let generation = persistence.generation;
    let cancel = Arc::new(AtomicBool::new(false));
    persistence.last_try_unix = unix_time_ms() / 1000;
    persistence.active = Some(ActiveSave {
        kind,
        generation,
        started: Instant::now(),
        dirty_at_start: state.dirty,
        cancel: cancel.clone(),
        waiter,
    });
    if kind == SaveKind::Background {
        tracing::info!(
            keys = snap.keys,
            offset = snap.offset,
            "Background saving started"
        );
    }
    if !state.persistence.disk_enabled {
        finish(state, generation, Ok(0));
        return Ok(());
    }
    let server = server.self_arc();
    let spawned = std::thread::Builder::new()
        .name("rdb-save".into())
        .spawn(move || {
            let result = write_rdb_file(&snap, encoder_options(), &path, Some(&cancel));
            let mut state = server.state.lock();
            finish(&mut state, generation, result);
        });
    if let Err(e) = spawned {
        state.persistence.active = None;
        state.persistence.last_status_ok = false;
        tracing::warn!("Can't save in background: cannot start a thread: {e}");
        return Err("ERR");
    }
    Ok(())
}

/// A save thread's end: the counters, the log, and SAVE's reply.
fn finish(state: &mut State, generation: u64, result: Result<u64, String>) {
    let current = state
        .persistence
        .active
        .as_ref()
        .is_some_and(|a| a.generation == generation);
    if !current {
        // Cancelled by a synchronous save (FLUSHALL, shutdown) that replaced it.
        tracing::info!("Background saving terminated by request");
        return;
    }
    let Some(active) = state.persistence.active.take() else {
        return;
    };
    let seconds = active.started.elapsed().as_secs_f64();
    let reply = match result {
        Ok(len) => {
            record_success(state, active.dirty_at_start, true);
            state.persistence.last_snapshot_bytes = len;
            tracing::info!(
                bytes = len,
                seconds = format!("{seconds:.3}"),
                "DB saved on disk"
            );
            if active.kind == SaveKind::Background {
                state.persistence.last_bgsave_seconds =
                    crate::util::num::i64_saturating(seconds.round());
                tracing::info!("Background saving terminated with success");
            }
            Reply::ok()
        }
        Err(reason) => {
            state.persistence.last_status_ok = false;
            tracing::warn!(
                "Failed saving the DB to {}: {reason}",
                rdb_path(&state.config).display()
            );
            if active.kind == SaveKind::Background {
                state.persistence.last_bgsave_seconds =
                    crate::util::num::i64_saturating(seconds.round());
                tracing::warn!("Background saving error");
            }
            Reply::error("ERR")
        }
    };
    if let Some(id) = active.waiter
        && state.blocking.unblock(id).is_some()
        && let Some(client) = state.clients.get(id)
    {
        client.send(Outbound::Unblocked(reply), 0);
    }
}

/// `counted`: INFO's `rdb_saves` counts SAVE and BGSAVE only, not the saves FLUSHALL,
/// DEBUG RELOAD and shutdown make (as Redis 7.0 does).
fn record_success(state: &mut State, dirty_at_start: u64, counted: bool) {
    state.dirty = state.dirty.saturating_sub(dirty_at_start);
    state.lastsave_unix = unix_time_ms() / 1000;
    if counted {
        state.persistence.saves += 1;
    }
    state.persistence.last_status_ok = true;
}

/// A save start to finish under the lock (FLUSHALL, DEBUG RELOAD, the final save before
/// exit). A running background save is cancelled first: this one supersedes it.
pub fn save_now(server: &Server, state: &mut State) -> Result<u64, String> {
    if let Some(active) = &state.persistence.active
        && active.kind == SaveKind::Background
    {
        active.cancel.store(true, Ordering::Relaxed);
        state.persistence.active = None;
    }
    let snap = take_snapshot(server, state);
    let dirty_at_start = state.dirty;
    state.persistence.last_try_unix = unix_time_ms() / 1000;
    let path = rdb_path(&state.config);
    let result = if state.persistence.disk_enabled {
        write_rdb_file(&snap, encoder_options(), &path, None)
    } else {
        Ok(0)
    };
    match &result {
        Ok(len) => {
            record_success(state, dirty_at_start, false);
            state.persistence.last_snapshot_bytes = *len;
            tracing::info!(bytes = len, "DB saved on disk");
        }
        Err(reason) => {
            state.persistence.last_status_ok = false;
            tracing::warn!("Failed saving the DB to {}: {reason}", path.display());
        }
    }
    result
}

/// FLUSHALL with save points configured saves the empty dataset at once, as Redis 7.0
/// does, so that a restart does not bring the flushed keys back. True if it saved.
pub fn after_flushall(server: &Server, state: &mut State) -> bool {
    if state.config.save_points.is_empty() || state.loading || !state.persistence.disk_enabled {
        return false;
    }
    save_now(server, state).is_ok()
}

/// The final save of a shutdown: when asked (SHUTDOWN SAVE), or when save points are
/// configured unless NOSAVE. Never while loading (the dataset is incomplete). Returns
/// whether the shutdown may go ahead: a failed save stops it unless `force`.
pub fn before_exit(server: &Server, state: &mut State, save: Option<bool>, force: bool) -> bool {
    let wanted = save.unwrap_or(!state.config.save_points.is_empty());
    if !wanted {
        return true;
    }
    if state.loading {
        tracing::warn!("Not saving the final RDB snapshot: the dataset is still loading");
        return true;
    }
    tracing::info!("Saving the final RDB snapshot before exiting.");
    match save_now(server, state) {
        Ok(_) => true,
        Err(_) if force => {
            tracing::warn!("Error trying to save the DB. Exit anyway.");
            true
        }
        Err(_) => {
            tracing::warn!("Error trying to save the DB, can't exit.");
            false
        }
    }
}

/// A replica keeps its master's snapshot on disk, as Redis does with a disk-based load, so
/// that after a restart it loads it and continues with PSYNC.
pub fn after_full_sync(server: &Server, state: &mut State) {
    if state.persistence.active.is_some() {
        // The running one saves the old data: save again once it ends.
        state.persistence.bgsave_scheduled = true;
        return;
    }
    if let Err(reason) = start(server, state, SaveKind::Background, None) {
        tracing::warn!("not keeping the master's snapshot on disk: {reason}");
    }
}

/// The cron's part: the `save <seconds> <changes>` rules and scheduled saves.
pub fn cron(server: &Server, state: &mut State, now_unix: u64) {
    if state.persistence.active.is_some() || state.loading {
        return;
    }
    let retry_allowed = state.persistence.last_status_ok
        || now_unix.saturating_sub(state.persistence.last_try_unix) > RETRY_DELAY_SECS;
    if !retry_allowed {
        return;
    }
    if state.persistence.bgsave_scheduled {
        state.persistence.bgsave_scheduled = false;
        if start(server, state, SaveKind::Background, None).is_ok() {
            return;
        }
    }
    let since_save = now_unix.saturating_sub(state.lastsave_unix);
    let due = state
        .config
        .save_points
        .iter()
        .copied()
        .find(|&(seconds, changes)| state.dirty >= changes && since_save > seconds);
    if let Some((seconds, changes)) = due {
        tracing::info!("{changes} changes in {seconds} seconds. Saving...");
        if let Err(reason) = start(server, state, SaveKind::Background, None) {
            tracing::warn!("save rule not applied: {reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Entry, Value};
    use bytes::Bytes;

    fn temp_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sluice-save-{label}-{}-{}",
            std::process::id(),
            TEMP_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn state_with_keys(dir: &Path, keys: usize) -> State {
        let mut config = Config::default();
        config.dir = dir.to_path_buf();
        let mut state = State::new(config);
        state.persistence.disk_enabled = true;
        for i in 0..keys {
            state.dbs[i % 3].insert(
                Bytes::from(format!("k{i}")),
                Entry::new(Value::Str(format!("v{i}").as_str().into())),
            );
        }
        state
    }

    #[test]
    fn save_now_writes_a_file_that_loads_back() {
        let dir = temp_dir("now");
        let server = Server::new(Config::default());
        let mut state = state_with_keys(&dir, 100);
        state.dirty = 7;
        let len = save_now(&server, &mut state).unwrap();
        assert_eq!(state.dirty, 0);
        assert_eq!(state.persistence.saves, 0);
        let path = rdb_path(&state.config);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        let options = super::super::load::LoadOptions::from_config(&state.config);
        let loaded = super::super::load::load_file(&path, options, None).unwrap();
        assert_eq!(loaded.keys, 100);
        assert_eq!(
            loaded.repl_id.as_deref(),
            Some(state.repl.ids.replid.as_str())
        );
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_write_leaves_nothing() {
        let dir = temp_dir("cancel");
        let mut state = state_with_keys(&dir, 10);
        let snap = snapshot::take(&mut state);
        let cancel = AtomicBool::new(true);
        let path = rdb_path(&state.config);
        assert!(write_rdb_file(&snap, encoder_options(), &path, Some(&cancel)).is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_save_is_reported_and_retried_later() {
        let dir = temp_dir("fail");
        let server = Server::new(Config::default());
        let mut state = state_with_keys(&dir, 1);
        state.config.dir = dir.join("missing");
        assert!(save_now(&server, &mut state).is_err());
        assert!(!state.persistence.last_status_ok);
        state.config.dir = dir.clone();
        assert!(save_now(&server, &mut state).is_ok());
        assert!(state.persistence.last_status_ok);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn save_rules_need_both_the_changes_and_the_time() {
        let server = Server::new(Config::default());
        let mut state = State::new(Config::default());
        state.config.save_points = vec![(10, 2)];
        state.lastsave_unix = 1000;
        state.dirty = 1;
        cron(&server, &mut state, 2000);
        assert_eq!(state.persistence.saves, 0);
        state.dirty = 2;
        cron(&server, &mut state, 1010);
        assert_eq!(state.persistence.saves, 0);
        // Disk writes are off in unit tests: the save completes at once.
        cron(&server, &mut state, 1011);
        assert_eq!(state.persistence.saves, 1);
        assert_eq!(state.dirty, 0);
        assert!(state.persistence.active.is_none());
    }

    #[test]
    fn shutdown_saves_only_when_asked_or_configured() {
        let server = Server::new(Config::default());
        let mut state = State::new(Config::default());
        state.config.save_points.clear();
        state.lastsave_unix = 0;
        assert!(before_exit(&server, &mut state, None, false));
        assert_eq!(state.lastsave_unix, 0);
        assert!(before_exit(&server, &mut state, Some(true), false));
        assert_ne!(state.lastsave_unix, 0);
        state.config.save_points = vec![(1, 1)];
        state.lastsave_unix = 0;
        assert!(before_exit(&server, &mut state, Some(false), false));
        assert_eq!(state.lastsave_unix, 0);
        state.loading = true;
        assert!(before_exit(&server, &mut state, Some(true), false));
        assert_eq!(state.lastsave_unix, 0);
    }
}
