//! Disk-mode full syncs: one RDB file per snapshot, written once; every replica that waits
//! for it or arrives while it is written reads it at its own cursor while it grows: `$EOF:`
//! framing to replicas that take it (the length is not known yet), `$<len>` once the file is
//! complete to those that do not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_rdb::EncoderOptions;
use sluice_rdb::framing::{EofMark, length_header};

use super::diskless::{RDB_CHUNK_BYTES, estimate};
use super::{Payload, ReplicaConn, ReplicaEnd};
use crate::fanout;
use crate::server::Server;
use crate::server::replication::{DiskJob, DiskProgress, ReplicaPhase};
use crate::snapshot::view as snapshot;

type Progress = tokio::sync::watch::Receiver<DiskProgress>;

impl ReplicaConn<'_> {
    /// Joins the file being written (or starts one) and sends it as it grows.
    pub(super) async fn disk_payload(&mut self) -> Result<Payload, ReplicaEnd> {
        let job = join_disk_job(self.server, self.id).map_err(ReplicaEnd::Sync)?;
        let eof_framing = self.handshake.capa_eof;
        let hint = job.size_hint.get().copied().filter(|_| eof_framing);
        let line = self.fullresync_line(job.replid, job.offset, hint);
        self.write(line.as_bytes()).await?;
        let mut progress = job.progress.subscribe();
        let mark = EofMark::from_random_bytes(rand::random());
        let total = if eof_framing {
            None
        } else {
            Some(self.wait_for_length(&mut progress).await?)
        };
        let header = match total {
            Some(total) => length_header(total).to_vec(),
            None => mark.header().to_vec(),
        };
        self.write(&header).await?;
        self.set_phase(ReplicaPhase::SendBulk);
        let started = Instant::now();
        let bytes = self.send_file(&job, &mut progress, total, started).await?;
        if eof_framing {
            self.write(&mark.trailer()).await?;
        }
        Ok(Payload {
            offset: job.offset,
            eof_framing,
            bytes,
            started,
        })
    }

    /// `$<len>` framing: the length goes first, so this waits for the file to be complete,
    /// with newlines as keepalives (as Redis sends them during its BGSAVE).
    async fn wait_for_length(&mut self, progress: &mut Progress) -> Result<u64, ReplicaEnd> {
        let mut keepalive = tokio::time::interval(Duration::from_secs(1));
        keepalive.tick().await;
        loop {
            let outcome = progress.borrow_and_update().outcome.clone();
            match outcome {
                Some(Ok(total)) => return Ok(total),
                Some(Err(reason)) => return Err(ReplicaEnd::SnapshotFailed(reason)),
                None => {}
            }
            tokio::select! {
                changed = progress.changed() => if changed.is_err() {
                    return Err(ReplicaEnd::Sync("the snapshot job ended".into()));
                },
                _ = keepalive.tick() => self.write(b"\n").await?,
                reason = self.kill_switch.tripped() => return Err(ReplicaEnd::Killed(reason)),
            }
        }
    }

    /// Sends the file from its first byte, following it while it is written; returns the
    /// bytes sent.
    async fn send_file(
        &mut self,
        job: &DiskJob,
        progress: &mut Progress,
        total: Option<u64>,
        started: Instant,
    ) -> Result<u64, ReplicaEnd> {
        let mut buf = vec![0u8; RDB_CHUNK_BYTES];
        let mut sent = 0u64;
        loop {
            let now = progress.borrow_and_update().clone();
            if sent < now.written {
                let want = crate::util::num::usize_from(now.written - sent).min(buf.len());
                let Some(file) = job.file.get() else {
                    return Err(ReplicaEnd::Sync("snapshot file missing".into()));
                };
                let n = match std::os::unix::fs::FileExt::read_at(file, &mut buf[..want], sent) {
                    Ok(0) => {
                        return Err(ReplicaEnd::Sync(
                            "snapshot file shorter than written".into(),
                        ));
                    }
                    Ok(n) => n,
                    Err(source) => {
                        return Err(ReplicaEnd::Io {
                            context: "reading the snapshot file",
                            source,
                        });
                    }
                };
                self.write(&buf[..n]).await?;
                sent += n as u64;
                log_progress(self.id, sent, total, started);
                continue;
            }
            match now.outcome {
                Some(Ok(_)) => return Ok(sent),
                Some(Err(reason)) => return Err(ReplicaEnd::SnapshotFailed(reason)),
                None => {}
            }
            tokio::select! {
                changed = progress.changed() => if changed.is_err() {
                    return Err(ReplicaEnd::Sync("the snapshot job ended".into()));
                },
                reason = self.kill_switch.tripped() => return Err(ReplicaEnd::Killed(reason)),
            }
        }
    }
}

/// The disk snapshot being written, joined; or a new one. The replica's cursor is set to
/// the snapshot's offset, so the log keeps what it will stream after the file.
fn join_disk_job(server: &Arc<Server>, client_id: u64) -> Result<Arc<DiskJob>, String> {
    let mut state = server.state.lock();
    if let Some(job) = state.repl.disk_job.clone()
        && job.in_progress()
    {
        if let Some(info) = state.repl.replicas.get_mut(&client_id) {
            info.cursor = job.offset;
        }
        tracing::info!(
            replica = client_id,
            offset = job.offset,
            written = job.progress.borrow().written,
            "joining the disk snapshot being written: reading it from byte 0"
        );
        return Ok(job);
    }
    let snap = snapshot::take(&mut state);
    state.repl.log.force_select();
    state.repl.sync_snapshots += 1;
    if let Some(info) = state.repl.replicas.get_mut(&client_id) {
        info.cursor = snap.offset;
    }
    let job = Arc::new(DiskJob {
        replid: snap.replid,
        offset: snap.offset,
        size_hint: std::sync::OnceLock::new(),
        file: std::sync::OnceLock::new(),
        progress: tokio::sync::watch::Sender::new(DiskProgress::default()),
    });
    state.repl.disk_job = Some(job.clone());
    let path = crate::snapshot::save::rdb_path(&state.config);
    let through_ring = state.repl.io_engine == fanout::Engine::IoUring;
    drop(state);
    let size_hint = estimate(&snap);
    let _ = job.size_hint.set(size_hint);
    tracing::info!(
        keys = snap.keys,
        offset = snap.offset,
        through_ring,
        size_hint,
        "starting a disk snapshot for full syncs"
    );
    let spawned = std::thread::Builder::new()
        .name("sync-rdb-file".into())
        .spawn({
            let job = job.clone();
            let server = server.clone();
            move || write_file(&server, &job, &snap, &path, through_ring)
        });
    if let Err(e) = spawned {
        let reason = format!("cannot start the snapshot thread: {e}");
        job.progress
            .send_modify(|p| p.outcome = Some(Err(reason.clone())));
        return Err(reason);
    }
    Ok(job)
}

/// The snapshot thread: writes the file, publishing its progress for the readers.
fn write_file(
    server: &Server,
    job: &Arc<DiskJob>,
    snap: &snapshot::Snapshot,
    path: &std::path::Path,
    through_ring: bool,
) {
    let options = EncoderOptions {
        chunk_size_bytes: RDB_CHUNK_BYTES,
        ..EncoderOptions::default()
    };
    // The file goes through a ring of its own when the sender uses io_uring.
    let mut ring = through_ring
        .then(|| fanout::RingWriter::new().ok())
        .flatten();
    let result = crate::snapshot::save::write_observed(
        snap,
        options,
        path,
        None,
        ring.as_mut(),
        |file| {
            let handle = file
                .try_clone()
                .map_err(|e| format!("a handle on the snapshot file: {e}"))?;
            let _ = job.file.set(handle);
            Ok(())
        },
        |written| {
            job.progress.send_modify(|p| p.written = written);
        },
    );
    let written = result.as_ref().ok().copied();
    job.progress.send_modify(|p| p.outcome = Some(result));
    let mut state = server.state.lock();
    if let Some(bytes) = written {
        state.persistence.last_snapshot_bytes = bytes;
    }
    if state
        .repl
        .disk_job
        .as_ref()
        .is_some_and(|j| Arc::ptr_eq(j, job))
    {
        state.repl.disk_job = None;
    }
}

fn log_progress(client_id: u64, sent: u64, total: Option<u64>, started: Instant) {
    const EVERY_BYTES: u64 = 64 << 20;
    if sent / EVERY_BYTES == (sent.saturating_sub(RDB_CHUNK_BYTES as u64)) / EVERY_BYTES {
        return;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    match total {
        Some(total) if total > 0 => tracing::info!(
            replica = client_id,
            bytes = sent,
            mb_per_s = sent as f64 / 1e6 / seconds,
            percent = sent as f64 * 100.0 / total as f64,
            "full sync progress"
        ),
        _ => tracing::info!(
            replica = client_id,
            bytes = sent,
            mb_per_s = sent as f64 / 1e6 / seconds,
            "full sync progress"
        ),
    }
}
