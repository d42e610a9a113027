//! The replication log: every write's effect, as RESP bytes, addressed by byte offset exactly
//! as Redis counts `master_repl_offset`. It is the backlog: a replica's stream is a cursor into
//! it, PSYNC asks whether it still holds an offset.
//!
//! Effects of one batch are gathered in `pending` and sealed into one [`Record`] at the end of
//! the batch, so records end on command boundaries and a MULTI…EXEC block is never split.

use super::ids::ReplId;
use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::effect::Effect;
use super::record::Record;

/// Db value meaning "not known": the next effect must SELECT.
pub const DB_UNKNOWN: u32 = u32::MAX;

/// A db index as the log stores it. Indexes are below `databases`, whose range ends at
/// 1,000,000, so they fit; the fallback only makes the next effect SELECT again.
pub fn db_number(db: usize) -> u32 {
    u32::try_from(db).unwrap_or(DB_UNKNOWN)
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LogError {
    #[error("offset {requested} is no longer in the log (it starts at {start})")]
    Trimmed { requested: u64, start: u64 },
    #[error("offset {requested} is beyond the end of the log ({end})")]
    Beyond { requested: u64, end: u64 },
}

/// A position in the log with the db selected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogMark {
    pub offset: u64,
    pub db: u32,
}

/// The smallest buffer effects are encoded into. Sealed records keep slices of it, so a
/// new one is allocated whenever the last is used up: with room for many records each,
/// the log's memory stays close to its bytes (growing buffers by doubling, from a few
/// bytes per record, held twice the bytes), and fresh memory is taken a chunk at a time.
const PENDING_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct ReplLog {
    records: VecDeque<Record>,
    /// Offset before the first retained byte.
    start: u64,
    /// Offset after the last sealed byte (`master_repl_offset` once pending is sealed).
    end: u64,
    retained_bytes: u64,
    backlog_bytes_max: u64,
    /// Db selected in the stream after the last effect; DB_UNKNOWN forces a SELECT.
    stream_db: u32,
    pending: BytesMut,
    /// Db in force before the first pending byte.
    pending_db: u32,
    replid: ReplId,
}

impl ReplLog {
    pub fn new(start: u64, backlog_bytes_max: u64) -> ReplLog {
        ReplLog {
            records: VecDeque::new(),
            start,
            end: start,
            retained_bytes: 0,
            backlog_bytes_max,
            stream_db: DB_UNKNOWN,
            pending: BytesMut::with_capacity(PENDING_CHUNK_BYTES),
            pending_db: DB_UNKNOWN,
            replid: ReplId::ZERO,
        }
    }

    /// Offset before the first retained byte: bytes `start+1 ..= end` (Redis numbering) are held.
    pub fn start_offset(&self) -> u64 {
        self.start
    }

    /// `master_repl_offset`, counting effects not yet sealed.
    pub fn end_offset(&self) -> u64 {
        self.end + self.pending.len() as u64
    }

    pub fn retained_bytes(&self) -> u64 {
        self.retained_bytes
    }

    pub fn backlog_bytes_max(&self) -> u64 {
        self.backlog_bytes_max
    }

    pub fn set_backlog_bytes_max(&mut self, bytes: u64) {
        self.backlog_bytes_max = bytes;
    }

    pub fn set_replid(&mut self, replid: ReplId) {
        if self.replid != replid {
            self.seal();
            self.replid = replid;
        }
    }

    /// After a full sync the stream's selected db is unknown to the new replica: the next
    /// effect starts with a SELECT (Redis does the same).
    pub fn force_select(&mut self) {
        self.stream_db = DB_UNKNOWN;
    }

    /// The db the stream has selected at its end (the RDB's `repl-stream-db`).
    pub fn stream_db(&self) -> Option<u32> {
        (self.stream_db != DB_UNKNOWN).then_some(self.stream_db)
    }

    /// A replica after loading a full sync: the db its master's stream has selected at the
    /// snapshot (`repl-stream-db`), so that its own replicas' snapshots say the same.
    pub fn set_stream_db(&mut self, db: Option<u32>) {
        self.stream_db = db.unwrap_or(DB_UNKNOWN);
    }

    /// Appends effects, each preceded by a SELECT when its db differs from the stream's.
    pub fn append_effects<'a>(&mut self, effects: impl IntoIterator<Item = &'a Effect>) {
        for effect in effects {
            self.append_argv(effect.db, &effect.argv);
        }
    }

    /// Appends one command applying to `db`, preceded by a SELECT when the stream has
    /// another db selected.
    pub fn append_argv<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        self.select(db);
        encode_command(&mut self.pending, argv);
    }

    /// Starts the pending record if none is, and selects `db` in the stream if needed.
    fn select(&mut self, db: usize) {
        if self.pending.is_empty() {
            self.pending_db = self.stream_db;
        }
        let db = super::db_number(db);
        if self.stream_db != db {
            let mut digits = itoa::Buffer::new();
            encode_command(
                &mut self.pending,
                &[b"SELECT", digits.format(db).as_bytes()],
            );
            self.stream_db = db;
        }
    }

    /// [`ReplLog::append_argv`] for a command already encoded as a RESP multibulk.
    pub fn append_encoded(&mut self, db: usize, command: &[u8]) {
        self.select(db);
        self.pending.extend_from_slice(command);
    }

    /// Appends a command that does not depend on the selected db (the master's PING).
    pub fn append_dbless(&mut self, argv: &[&[u8]]) {
        if self.pending.is_empty() {
            self.pending_db = self.stream_db;
        }
        encode_command(&mut self.pending, argv);
    }

    /// Appends bytes received from our own master unchanged, so that a chained replica sees
    /// the same stream and offsets. `db_after` is the db selected after them, if known.
    pub fn append_raw(&mut self, bytes: &[u8], db_after: Option<u32>) {
        if bytes.is_empty() {
            return;
        }
        if self.pending.is_empty() {
            self.pending_db = self.stream_db;
        }
        self.pending.extend_from_slice(bytes);
        self.stream_db = db_after.unwrap_or(DB_UNKNOWN);
    }

    /// Closes the pending effects into a record; returns it (for the durable log).
    pub fn seal(&mut self) -> Option<&Record> {
        if self.pending.is_empty() {
            return None;
        }
        let payload = self.pending.split().freeze();
        let record = Record::new(self.end, self.pending_db, self.replid, payload);
        // The log is contiguous: each record starts where the one before ended, and what is
        // retained is exactly the records held.
        debug_assert!(
            self.records
                .back()
                .is_none_or(|last| last.end_offset() == record.start_offset),
            "record at {} does not follow the log's last one",
            record.start_offset
        );
        self.end = record.end_offset();
        self.retained_bytes += record.payload.len() as u64;
        debug_assert_eq!(
            self.retained_bytes,
            self.records
                .iter()
                .map(|r| r.payload.len() as u64)
                .sum::<u64>()
                + record.payload.len() as u64
        );
        self.records.push_back(record);
        self.records.back()
    }

    /// Drops whole records from the front while more than `bytes_max` is kept, never past
    /// `keep_from` (what an attached replica or the durable log still needs).
    pub fn trim(&mut self, bytes_max: u64, keep_from: Option<u64>) {
        while self.retained_bytes > bytes_max {
            let Some(first) = self.records.front() else {
                break;
            };
            if keep_from.is_some_and(|keep| first.end_offset() > keep) {
                break;
            }
            let len = first.payload.len() as u64;
            self.start = first.end_offset();
            self.retained_bytes -= len;
            self.records.pop_front();
        }
    }

    /// Drops whole records that end at or before `offset` (what the durable log dropped: the
    /// memory part never offers more history than the log as a whole).
    pub fn trim_before(&mut self, offset: u64) {
        while let Some(first) = self.records.front() {
            if first.end_offset() > offset {
                break;
            }
            self.start = first.end_offset();
            self.retained_bytes -= first.payload.len() as u64;
            self.records.pop_front();
        }
    }

    /// Sealed bytes from offset `from`, at most about `bytes_max` of them (whole record slices,
    /// shared, not copied). Empty when `from` is the end.
    pub fn read(&self, from: u64, bytes_max: usize) -> Result<Vec<Bytes>, LogError> {
        self.read_until(from, u64::MAX, bytes_max)
    }

    /// [`ReplLog::read`], but nothing at or beyond offset `until` (what is durable, for
    /// `repl-ship-durable`).
    pub fn read_until(
        &self,
        from: u64,
        until: u64,
        bytes_max: usize,
    ) -> Result<Vec<Bytes>, LogError> {
        if from < self.start {
            return Err(LogError::Trimmed {
                requested: from,
                start: self.start,
            });
        }
        if from > self.end {
            return Err(LogError::Beyond {
                requested: from,
                end: self.end,
            });
        }
        let mut out = Vec::new();
        if from == self.end {
            return Ok(out);
        }
        // The record containing `from`: the last one starting at or before it.
        let index = self
            .records
            .partition_point(|r| r.start_offset <= from)
            .saturating_sub(1);
        let mut taken = 0usize;
        for record in self.records.range(index..) {
            if taken >= bytes_max {
                break;
            }
            if record.start_offset >= until {
                break;
            }
            let skip = crate::util::num::usize_from(from.saturating_sub(record.start_offset));
            let keep =
                crate::util::num::usize_from(until.min(record.end_offset()) - record.start_offset);
            if skip >= keep {
                continue;
            }
            let slice = record.payload.slice(skip..keep);
            taken += slice.len();
            out.push(slice);
        }
        Ok(out)
    }

    /// Empties the log and restarts it at `offset` (a replica after loading a full sync).
    pub fn reset(&mut self, offset: u64) {
        self.records.clear();
        self.pending.clear();
        self.start = offset;
        self.end = offset;
        self.retained_bytes = 0;
        self.stream_db = DB_UNKNOWN;
        self.pending_db = DB_UNKNOWN;
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    /// Where the log ends now and which db its stream has selected there.
    pub fn mark(&self) -> LogMark {
        LogMark {
            offset: self.end_offset(),
            db: self.stream_db,
        }
    }

    /// The commands logged since `mark` (sealed or not) with the db each applies to;
    /// SELECTs are folded into the db. For tests that check what a command propagates.
    pub fn commands_since(&self, mark: LogMark) -> Vec<Effect> {
        let offset = mark.offset;
        let mut bytes = bytes::BytesMut::new();
        if offset < self.end {
            for chunk in self.read(offset, usize::MAX).unwrap_or_default() {
                bytes.extend_from_slice(&chunk);
            }
        }
        let skip_pending = crate::util::num::usize_from(offset.saturating_sub(self.end));
        bytes.extend_from_slice(&self.pending[skip_pending.min(self.pending.len())..]);
        let mut parser = crate::resp::parse::RequestParser::default();
        let limits = crate::resp::parse::ParseLimits::default();
        let mut db = mark.db as usize;
        let mut out = Vec::new();
        while let Ok(Some(argv)) = parser.parse(&mut bytes, &limits) {
            if argv
                .first()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"select"))
            {
                db = argv
                    .get(1)
                    .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok())
                    .unwrap_or(db);
                continue;
            }
            out.push(Effect { db, argv });
        }
        out
    }
}

/// Appends one command as a RESP multibulk.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut BytesMut, argv: &[A]) {
    // One reservation up front: the puts below then never grow the buffer.
    let header_bytes_max = 1 + 20 + 2;
    let total: usize = argv
        .iter()
        .map(|a| header_bytes_max + a.as_ref().len() + 2)
        .sum::<usize>()
        + header_bytes_max;
    out.reserve(total);
    let mut digits = itoa::Buffer::new();
    out.put_u8(b'*');
    out.put_slice(digits.format(argv.len()).as_bytes());
    out.put_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        out.put_u8(b'$');
        out.put_slice(digits.format(arg.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(db: usize, argv: &[&str]) -> Effect {
        Effect {
            db,
            argv: argv
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
        }
    }

    fn concat(parts: Vec<Bytes>) -> Vec<u8> {
        parts.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn offsets_count_bytes_and_select_is_emitted_on_db_change() {
        let mut log = ReplLog::new(0, 1 << 20);
        log.append_effects(&[effect(0, &["SET", "k", "v"]), effect(0, &["DEL", "k"])]);
        log.seal();
        let select0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n".len() as u64;
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".len() as u64;
        let del = b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n".len() as u64;
        assert_eq!(log.end_offset(), select0 + set + del);
        log.append_effects(&[effect(0, &["DEL", "k"])]);
        log.seal();
        assert_eq!(
            log.end_offset(),
            select0 + set + 2 * del,
            "no SELECT when the db is unchanged"
        );
        log.append_effects(&[effect(5, &["DEL", "k"])]);
        log.seal();
        let all = concat(log.read(0, usize::MAX).unwrap());
        assert_eq!(all.len() as u64, log.end_offset());
        assert!(all.ends_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"));
    }

    #[test]
    fn read_from_the_middle_of_a_record() {
        let mut log = ReplLog::new(1000, 1 << 20);
        log.append_dbless(&[b"PING"]);
        log.seal();
        log.append_dbless(&[b"PING"]);
        log.seal();
        let ping = b"*1\r\n$4\r\nPING\r\n";
        let tail = concat(log.read(1005, usize::MAX).unwrap());
        assert_eq!(tail.len(), 2 * ping.len() - 5);
        assert_eq!(&tail[..ping.len() - 5], &ping[5..]);
        assert!(log.read(log.end_offset(), 10).unwrap().is_empty());
        assert!(matches!(log.read(999, 10), Err(LogError::Trimmed { .. })));
        assert!(matches!(
            log.read(log.end_offset() + 1, 10),
            Err(LogError::Beyond { .. })
        ));
    }

    #[test]
    fn trimming_respects_size_and_replica_cursors() {
        let mut log = ReplLog::new(0, 50);
        for _ in 0..10 {
            log.append_dbless(&[b"PING"]);
            log.seal();
        }
        // A replica at offset 0 pins everything.
        log.trim(50, Some(0));
        assert_eq!(log.start_offset(), 0);
        log.trim(50, None);
        assert!(log.retained_bytes() <= 50);
        assert_eq!(log.start_offset() + log.retained_bytes(), log.end_offset());
        let records: Vec<_> = log.records().collect();
        assert!(
            records
                .windows(2)
                .all(|w| w[0].end_offset() == w[1].start_offset)
        );
        assert!(records.iter().all(|r| r.verify().is_ok()));
    }

    #[test]
    fn raw_appends_keep_the_masters_bytes_and_offsets() {
        let mut log = ReplLog::new(500, 1 << 20);
        log.append_raw(b"*1\r\n$4\r\nPING\r\n", None);
        log.seal();
        assert_eq!(log.end_offset(), 514);
        assert_eq!(log.stream_db(), None);
    }
}
