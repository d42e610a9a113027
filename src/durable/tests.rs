//! The durable log driven through the crash-simulating store: what survives a crash, what
//! damage does, and that a refused write never leaves a hole.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::meta::{LogBase, LogMeta};
use super::store::{Faults, LogStore, MemStore};
use super::*;
use crate::log::ReplId;

const TIMEOUT: Duration = Duration::from_secs(10);

fn replid(c: char) -> ReplId {
    ReplId::parse_str(&c.to_string().repeat(40)).unwrap()
}

fn ping_record(start: u64) -> Record {
    Record::new(
        start,
        0,
        replid('a'),
        Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"),
    )
}

const PING_BYTES: u64 = 14;

fn meta_at(offset: u64) -> LogMeta {
    LogMeta {
        ids: ReplIds {
            replid: replid('a'),
            replid2: replid('0'),
            second_replid_offset: -1,
        },
        log_start: offset,
        base: LogBase {
            offset,
            replid: replid('a'),
            empty: true,
        },
    }
}

/// A log on `store` with `n` PING records from offset 100, flushed.
fn log_with(store: &MemStore, n: u64, policy: FsyncPolicy) -> DurableLog {
    let (log, opened) = DurableLog::open(Arc::new(store.clone()), policy).unwrap();
    assert!(opened.meta.is_none());
    log.reset(meta_at(100));
    for i in 0..n {
        log.append_unbounded(ping_record(100 + i * PING_BYTES));
    }
    log.flush(TIMEOUT).unwrap();
    log
}

fn concat(parts: Vec<Bytes>) -> Vec<u8> {
    parts.iter().flat_map(|b| b.iter().copied()).collect()
}

#[test]
fn flushed_records_survive_a_crash_and_read_back_from_any_offset() {
    let store = MemStore::new();
    let log = log_with(&store, 10, FsyncPolicy::EverySec);
    assert_eq!(log.durable_end(), 100 + 10 * PING_BYTES);
    drop(log);
    store.crash();
    let (log, opened) = DurableLog::open(Arc::new(store.clone()), FsyncPolicy::EverySec).unwrap();
    assert_eq!((opened.start, opened.end), (100, 100 + 10 * PING_BYTES));
    assert!(opened.damage.is_empty());
    assert_eq!(opened.meta.unwrap().base.offset, 100);
    let tail = concat(log.read(105, usize::MAX).unwrap());
    assert_eq!(tail.len() as u64, 10 * PING_BYTES - 5);
    assert_eq!(&tail[..9], &b"*1\r\n$4\r\nPING\r\n"[5..]);
    assert!(matches!(
        log.read(99, 10),
        Err(DurableError::Trimmed { .. })
    ));
    assert!(matches!(
        log.read(100 + 10 * PING_BYTES + 1, 10),
        Err(DurableError::Beyond { .. })
    ));
}

#[test]
fn what_was_not_flushed_is_lost_in_a_crash_and_the_end_says_so() {
    let store = MemStore::new();
    let log = log_with(&store, 3, FsyncPolicy::No);
    // Appended and applied, never flushed (policy no, nobody asks).
    log.append_unbounded(ping_record(100 + 3 * PING_BYTES));
    let deadline = std::time::Instant::now() + TIMEOUT;
    while log.written_end() < 100 + 4 * PING_BYTES {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(log.durable_end(), 100 + 3 * PING_BYTES);
    // kill -9: the writer never gets to flush.
    store.crash();
    std::mem::forget(log);
    let (_, opened) = DurableLog::open(Arc::new(store.clone()), FsyncPolicy::No).unwrap();
    assert_eq!(opened.end, 100 + 3 * PING_BYTES);
}

#[test]
fn a_damaged_tail_is_cut_at_the_last_good_record() {
    let store = MemStore::new();
    let log = log_with(&store, 4, FsyncPolicy::EverySec);
    drop(log);
    // All four records are in one chunk keyed 100; damage the third one's payload.
    let record_len = 64 + crate::util::num::usize_from(PING_BYTES);
    let id = store.chunk_ids().unwrap()[0];
    assert!(store.corrupt_chunk(id, 2 * record_len + 70));
    let (log, opened) = DurableLog::open(Arc::new(store.clone()), FsyncPolicy::EverySec).unwrap();
    assert_eq!(opened.end, 100 + 2 * PING_BYTES);
    assert!(
        opened.damage.iter().any(|d| d.contains("CRC mismatch")),
        "{:?}",
        opened.damage
    );
    // The chunk was rewritten with the good records only.
    assert_eq!(
        concat(log.read(100, usize::MAX).unwrap()).len() as u64,
        2 * PING_BYTES
    );
    drop(log);
    store.crash();
    let (_, reopened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!(reopened.end, 100 + 2 * PING_BYTES);
    assert!(reopened.damage.is_empty(), "{:?}", reopened.damage);
}

#[test]
fn truncate_rewrites_the_chunk_across_the_cut() {
    let store = MemStore::new();
    let log = log_with(&store, 5, FsyncPolicy::EverySec);
    log.truncate(100 + 2 * PING_BYTES);
    log.flush(TIMEOUT).unwrap();
    assert_eq!(log.written_end(), 100 + 2 * PING_BYTES);
    assert_eq!(
        concat(log.read(100, usize::MAX).unwrap()).len() as u64,
        2 * PING_BYTES
    );
    // Appending continues from the cut.
    log.append_unbounded(ping_record(100 + 2 * PING_BYTES));
    log.flush(TIMEOUT).unwrap();
    drop(log);
    store.crash();
    let (_, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!(opened.end, 100 + 3 * PING_BYTES);
    assert!(opened.damage.is_empty());
}

#[test]
fn a_hole_above_the_base_keeps_what_comes_before_it() {
    let store = MemStore::new();
    let log = log_with(&store, 1, FsyncPolicy::EverySec);
    // Separate flushes make separate chunks.
    for i in 1..4 {
        log.append_unbounded(ping_record(100 + i * PING_BYTES));
        log.flush(TIMEOUT).unwrap();
    }
    drop(log);
    let third = store.chunk_ids().unwrap()[2];
    assert_eq!(third.start, 100 + 2 * PING_BYTES);
    store.drop_chunk(third);
    let (_, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!(opened.end, 100 + 2 * PING_BYTES);
    assert!(
        opened.damage.iter().any(|d| d.contains("hole")),
        "{:?}",
        opened.damage
    );
}

/// A hole below the replay base (a damaged old segment) cuts what lies before it, never the
/// records after the snapshot that the restart must replay.
#[test]
fn a_hole_below_the_base_keeps_what_comes_after_it() {
    let store = MemStore::new();
    let log = log_with(&store, 1, FsyncPolicy::EverySec);
    for i in 1..5 {
        log.append_unbounded(ping_record(100 + i * PING_BYTES));
        log.flush(TIMEOUT).unwrap();
    }
    log.set_base(LogBase {
        offset: 100 + 3 * PING_BYTES,
        replid: replid('a'),
        empty: false,
    });
    log.flush(TIMEOUT).unwrap();
    drop(log);
    let second = store.chunk_ids().unwrap()[1];
    assert_eq!(second.start, 100 + PING_BYTES);
    store.drop_chunk(second);
    let (log, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!(opened.start, 100 + 2 * PING_BYTES);
    assert_eq!(
        opened.end,
        100 + 5 * PING_BYTES,
        "nothing after the base is lost"
    );
    assert_eq!(
        concat(log.read(100 + 3 * PING_BYTES, usize::MAX).unwrap()).len() as u64,
        2 * PING_BYTES
    );
}

#[test]
fn a_refused_write_is_retried_in_order_and_leaves_no_hole() {
    let store = MemStore::new();
    let log = log_with(&store, 1, FsyncPolicy::EverySec);
    store.inject(Faults {
        fail_applies: 3,
        fail_flushes: 0,
    });
    log.append_unbounded(ping_record(100 + PING_BYTES));
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !log.has_error() {
        assert!(
            std::time::Instant::now() < deadline,
            "the error is published"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    log.append_unbounded(ping_record(100 + 2 * PING_BYTES));
    // Retries every half second until the store takes the batches again.
    let end = loop {
        match log.flush(TIMEOUT) {
            Ok(end) if end == 100 + 3 * PING_BYTES => break end,
            _ => {
                assert!(std::time::Instant::now() < deadline, "the store recovers");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    assert!(!log.has_error());
    let bytes = concat(log.read(100, usize::MAX).unwrap());
    assert_eq!(bytes.len() as u64, end - 100);
    assert_eq!(bytes, b"*1\r\n$4\r\nPING\r\n".repeat(3));
}

#[test]
fn trimming_keeps_the_replay_base() {
    let store = MemStore::new();
    let log = log_with(&store, 1, FsyncPolicy::EverySec);
    for i in 1..6 {
        log.append_unbounded(ping_record(100 + i * PING_BYTES));
        log.flush(TIMEOUT).unwrap();
    }
    // Base at 100: nothing may go.
    log.trim(100 + 6 * PING_BYTES);
    log.flush(TIMEOUT).unwrap();
    assert_eq!(log.start(), 100);
    log.set_base(LogBase {
        offset: 100 + 3 * PING_BYTES,
        replid: replid('a'),
        empty: false,
    });
    log.trim(100 + 6 * PING_BYTES);
    log.flush(TIMEOUT).unwrap();
    assert_eq!(log.start(), 100 + 3 * PING_BYTES);
    drop(log);
    store.crash();
    let (_, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!(opened.start, 100 + 3 * PING_BYTES);
    assert_eq!(opened.meta.unwrap().base.offset, 100 + 3 * PING_BYTES);
}

#[test]
fn reset_forgets_the_old_history_atomically_with_the_new_ids() {
    let store = MemStore::new();
    let log = log_with(&store, 3, FsyncPolicy::EverySec);
    let mut meta = meta_at(5000);
    meta.ids.replid = replid('b');
    log.reset(meta.clone());
    log.flush(TIMEOUT).unwrap();
    drop(log);
    store.crash();
    let (log, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!((opened.start, opened.end), (5000, 5000));
    assert_eq!(opened.meta, Some(meta));
    assert!(log.read(5000, 10).unwrap().is_empty());
}

#[test]
fn chunks_without_metadata_are_not_trusted() {
    let store = MemStore::new();
    let log = log_with(&store, 2, FsyncPolicy::EverySec);
    drop(log);
    store.corrupt_meta();
    let (_, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert!(opened.meta.is_none());
    assert_eq!(opened.damage.len(), 2, "{:?}", opened.damage);
}

impl DurableLog {
    fn append_unbounded(&self, record: Record) {
        self.append(record, u64::MAX);
    }
}

#[test]
fn appenders_wait_for_a_lagging_writer() {
    let store = MemStore::new();
    let log = log_with(&store, 0, FsyncPolicy::EverySec);
    // A small lag limit: appending many records must never leave more than it unwritten
    // (plus the record just handed over).
    for i in 0..2000 {
        log.append(ping_record(100 + i * PING_BYTES), 10 * PING_BYTES);
        assert!(log.lag_bytes() <= 10 * PING_BYTES + PING_BYTES);
    }
    assert_eq!(log.flush(TIMEOUT).unwrap(), 100 + 2000 * PING_BYTES);
}

#[test]
fn a_store_that_silently_lost_flushed_records_is_reported() {
    let store = MemStore::new();
    let log = log_with(&store, 1, FsyncPolicy::EverySec);
    for i in 1..3 {
        log.append_unbounded(ping_record(100 + i * PING_BYTES));
        log.flush(TIMEOUT).unwrap();
    }
    drop(log);
    // As sled does when its recovery meets a damaged page: the tail is gone, quietly.
    let last = *store.chunk_ids().unwrap().last().unwrap();
    store.drop_chunk(last);
    let (_, opened) = DurableLog::open(Arc::new(store), FsyncPolicy::EverySec).unwrap();
    assert_eq!(opened.end, 100 + 2 * PING_BYTES);
    assert!(
        opened.damage.iter().any(|d| d.contains("were lost")),
        "{:?}",
        opened.damage
    );
}

/// sled must give back the space of trimmed chunks: with chunks stored as sled blobs it
/// never did, and the directory grew with every byte ever logged.
#[test]
fn trimmed_chunks_give_their_space_back_in_sled() {
    use super::sled_store::SledStore;
    const ROUNDS: usize = 160;
    const RECORDS_PER_ROUND: usize = 64;
    let dir = super::store::test_support::temp_dir("sled-space");
    let store = SledStore::open(&dir, 8 << 20).unwrap();
    let (log, _) = DurableLog::open(Arc::new(store), FsyncPolicy::No).unwrap();
    let ping = b"*1\r\n$4\r\nPING\r\n";
    let payload = Bytes::from(ping.repeat(16 * 1024 / ping.len()));
    let mut offset = log.written_end();
    let mut written_bytes = 0u64;
    let mut halfway_bytes = 0u64;
    for round in 0..ROUNDS {
        if round == ROUNDS / 2 {
            halfway_bytes = log.size_on_disk_bytes();
        }
        for _ in 0..RECORDS_PER_ROUND {
            let record = Record::new(offset, 0, replid('a'), payload.clone());
            offset = record.end_offset();
            written_bytes += payload.len() as u64;
            log.append(record, 64 << 20);
        }
        log.flush(TIMEOUT).unwrap();
        // As if a snapshot had been taken here: nothing before it is needed any more.
        log.set_base(LogBase {
            offset,
            replid: replid('a'),
            empty: false,
        });
        log.trim(offset);
    }
    log.flush(TIMEOUT).unwrap();
    let on_disk = log.size_on_disk_bytes();
    log.stop();
    let _ = std::fs::remove_dir_all(&dir);
    // Measured: 16 MB halfway and 36 MB at the end of 168 MB logged; with the 1 MiB blob
    // chunks this replaced, 93 MB and 180 MB, more than was ever logged.
    assert!(
        on_disk < written_bytes / 3,
        "sled keeps {on_disk} bytes after {written_bytes} bytes were logged and trimmed \
         ({halfway_bytes} halfway)"
    );
}

/// A chunk whose bytes changed on disk fails its CRC in the store; readers see it as damage
/// (which cuts the log and sends the replica to a full sync), not as an I/O error that the
/// same PSYNC would hit again.
#[test]
fn a_chunk_damaged_in_its_segment_reads_as_damage() {
    use super::sled_store::SledStore;
    let dir = super::store::test_support::temp_dir("segment-damage");
    let store = SledStore::open(&dir, 8 << 20).unwrap();
    let (log, _) = DurableLog::open(Arc::new(store), FsyncPolicy::No).unwrap();
    let payload = Bytes::from(vec![b'x'; 100 << 10]);
    let first = log.written_end();
    let mut offset = first;
    for _ in 0..3 {
        let record = Record::new(offset, 0, replid('a'), payload.clone());
        offset = record.end_offset();
        log.append(record, 64 << 20);
    }
    log.flush(TIMEOUT).unwrap();
    assert_eq!(log.read_records(first, 1 << 20).unwrap().len(), 3);
    let segment = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&segment, &bytes).unwrap();
    // The records before the damaged one still read; from the damaged one on, it is damage.
    let before = log.read_records(first, 1 << 20).unwrap();
    assert!(before.len() < 3, "{} records", before.len());
    let damaged_at = before.last().map_or(first, Record::end_offset);
    let error = log.read_records(damaged_at, 1 << 20).unwrap_err();
    assert!(
        matches!(error, DurableError::Damaged { offset, .. } if offset == damaged_at),
        "{error:?}"
    );
    log.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
