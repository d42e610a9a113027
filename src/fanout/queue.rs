//! The bookkeeping of a fan-out, apart from any I/O: one queue of chunks shared by every
//! member, each member a cursor into it. Chunks are dropped once every live member has sent
//! them. The next chunk is taken from the producer only while the fastest member is close to
//! the end of the queue, so the producer runs at the pace of the fastest link; a member that
//! falls more than its window behind is dropped, alone.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::fanout::compressed::{FrameKind, frame_header};

/// Chunks the fastest member may have queued before the producer is asked for more.
pub const FASTEST_AHEAD_CHUNKS: usize = 4;

/// One chunk of the snapshot, in the forms produced for it.
#[derive(Debug, Clone)]
pub struct Item {
    pub raw: Bytes,
    /// Compressed, when some member wanted it and compression made it smaller.
    pub zstd: Option<Bytes>,
}

/// How a member receives the chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// As they are (`$EOF:`): stock Redis replicas, or compression off.
    Plain,
    /// In frames (`$ZSTD:`), compressed when available and `always`, or when the member
    /// lags (its link, not the master, is the bottleneck).
    Frames { always: bool },
}

/// Chunks a framed member must lag by before `auto` sends it compressed forms.
pub const BEHIND_CHUNKS_FOR_COMPRESSION: u64 = 2;

/// A member that lags while it takes more RDB bytes per second than this (raw or compressed
/// alike) is bound by its own loading, not by its link: compressing would cost the master a
/// core and the replica its decompression for nothing. 1M × 1000 B text values over
/// loopback synced in 4.1 s compressed and in 2.9 s raw; over 1 Gbit/s (at most ~120 MB/s
/// raw) compression still pays.
pub const LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX: f64 = 200e6;

/// Consecutive drain samples below [`LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX`] that show a slow
/// link. The first half second of a transfer drains slowly whatever the link (the replica
/// starts its loader and faults in its first buffers: 73 and 110 MB/s, then 420 MB/s, over
/// loopback), so one or two slow samples say nothing.
pub const SLOW_DRAIN_SAMPLES_FOR_LINK_BOUND: u32 = 3;

/// A drain sample under this (320 Mbit/s of RDB) shows a slow link at once: no replica
/// loads that slowly, even starting, and on a 100 Mbit/s link waiting for three samples
/// cost a fifth of the transfer's time (5.1 s instead of 4.2 s for 202 MB of text).
pub const SURELY_SLOW_DRAIN_BYTES_PER_SEC: f64 = 40e6;

#[derive(Debug)]
pub struct MemberState {
    pub id: u64,
    pub framing: Framing,
    /// The member lagged behind the encoder while it took RDB bytes slowly: its link is the
    /// bottleneck, until a sample shows it taking them fast.
    pub link_bound: bool,
    /// Consecutive sampling intervals in which it took less than
    /// [`LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX`] of RDB bytes.
    pub slow_drain_samples: u32,
    /// RDB bytes (uncompressed) of the chunks it has taken to send: its progress, the same
    /// measure whether its chunks go raw or compressed.
    pub rdb_bytes_taken: u64,
    /// What is left to send of the current chunk (a frame header, then the payload).
    pieces: VecDeque<Bytes>,
    /// Sent before the chunks (the framing's header), then consumed.
    pub header: Bytes,
    /// Sent after the last chunk (the framing's trailer).
    pub trailer: Bytes,
    /// Index (absolute, counted from the first chunk ever) of the chunk being sent.
    pub chunk: u64,
    /// Bytes of that chunk already sent.
    pub offset: usize,
    pub sent_bytes: u64,
    pub window_bytes: u64,
    pub trailer_sent: bool,
    pub failed: Option<String>,
}

impl MemberState {
    pub fn new(id: u64, header: Bytes, trailer: Bytes, window_bytes: u64) -> MemberState {
        MemberState {
            id,
            framing: Framing::Plain,
            link_bound: false,
            slow_drain_samples: 0,
            rdb_bytes_taken: 0,
            pieces: VecDeque::new(),
            header,
            trailer,
            chunk: 0,
            offset: 0,
            sent_bytes: 0,
            window_bytes,
            trailer_sent: false,
            failed: None,
        }
    }

    pub fn live(&self) -> bool {
        self.failed.is_none()
    }

    /// Notes that the member lags while it takes RDB bytes slowly (its link is slower than
    /// the encoder): `auto` sends it compressed chunks from then on. It stays so while it
    /// catches up, since switching back and forth per chunk halved what was compressed; only
    /// a drain sample over [`LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX`] ends it. A member that lags
    /// on a fast link is loading as fast as it can: it stays raw.
    pub fn note_lag(&mut self, queue_end: u64) {
        if self.lags_on_a_slow_link(queue_end) {
            self.link_bound = true;
        }
    }

    /// The RDB bytes per second it took over the last sampling interval.
    pub fn note_drain_rate(&mut self, rdb_bytes_per_sec: f64) {
        if rdb_bytes_per_sec < SURELY_SLOW_DRAIN_BYTES_PER_SEC {
            self.slow_drain_samples = self
                .slow_drain_samples
                .saturating_add(1)
                .max(SLOW_DRAIN_SAMPLES_FOR_LINK_BOUND);
        } else if rdb_bytes_per_sec < LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX {
            self.slow_drain_samples = self.slow_drain_samples.saturating_add(1);
        } else {
            self.slow_drain_samples = 0;
            self.link_bound = false;
        }
    }

    fn lags_on_a_slow_link(&self, queue_end: u64) -> bool {
        let lags = queue_end.saturating_sub(self.chunk) >= BEHIND_CHUNKS_FOR_COMPRESSION;
        lags && self.slow_drain_samples >= SLOW_DRAIN_SAMPLES_FOR_LINK_BOUND
    }

    /// A framed member with `zstd`, or in `auto` once its link proved the bottleneck.
    pub fn wants_compression(&self, queue_end: u64) -> bool {
        match self.framing {
            Framing::Plain => false,
            Framing::Frames { always } => {
                always || self.link_bound || self.lags_on_a_slow_link(queue_end)
            }
        }
    }
}

/// What a member sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// These bytes (a slice of a shared buffer).
    Bytes(Bytes),
    /// Nothing now: waiting for the producer.
    Wait,
    /// Everything, trailer included, was sent.
    Done,
}

#[derive(Debug, Default)]
pub struct Queue {
    chunks: VecDeque<Item>,
    /// Absolute index of `chunks[0]`.
    first: u64,
    queued_bytes: u64,
    pub finished: bool,
}

impl Queue {
    pub fn end(&self) -> u64 {
        self.first + self.chunks.len() as u64
    }

    pub fn push(&mut self, item: Item) {
        debug_assert!(!self.finished, "a chunk pushed after the payload finished");
        self.queued_bytes += item.raw.len() as u64;
        self.chunks.push_back(item);
    }

    /// Whether the producer should be asked for another chunk.
    pub fn wants_more<'a>(&self, members: impl IntoIterator<Item = &'a MemberState>) -> bool {
        if self.finished {
            return false;
        }
        let fastest = members
            .into_iter()
            .filter(|m| m.live())
            .map(|m| m.chunk)
            .max();
        match fastest {
            Some(fastest) => self.end().saturating_sub(fastest) < FASTEST_AHEAD_CHUNKS as u64,
            None => false,
        }
    }

    /// Bytes a member still has to send from the queue.
    fn behind_bytes(&self, member: &MemberState) -> u64 {
        let mut bytes = 0u64;
        for index in member.chunk.max(self.first)..self.end() {
            bytes += self.chunks[crate::util::num::usize_from(index - self.first)]
                .raw
                .len() as u64;
        }
        bytes.saturating_sub(member.offset as u64)
    }

    /// Marks `member` failed when it fell past its window; true if it did.
    pub fn enforce_window(&self, member: &mut MemberState) -> bool {
        if member.live()
            && member.window_bytes > 0
            && self.behind_bytes(member) > member.window_bytes
        {
            member.failed = Some(format!(
                "replica too slow: more than {} bytes of the snapshot queued for it",
                member.window_bytes
            ));
            return true;
        }
        false
    }

    /// What `member` sends next. Marks it failed when it fell past its window.
    pub fn next(&self, member: &mut MemberState) -> Next {
        if !member.live() {
            return Next::Done;
        }
        if !member.header.is_empty() {
            return Next::Bytes(member.header.clone());
        }
        if member.pieces.is_empty() && member.chunk < self.end() {
            if self.enforce_window(member) {
                return Next::Done;
            }
            // Chunks are dropped only once every live member has sent them.
            debug_assert!(
                member.chunk >= self.first,
                "member at chunk {} behind the queue's first {}",
                member.chunk,
                self.first
            );
            let item = &self.chunks[crate::util::num::usize_from(member.chunk - self.first)];
            member.rdb_bytes_taken += item.raw.len() as u64;
            match member.framing {
                Framing::Plain => member.pieces.push_back(item.raw.clone()),
                Framing::Frames { .. } => {
                    let compressed = item
                        .zstd
                        .as_ref()
                        .filter(|_| member.wants_compression(self.end()));
                    let (kind, payload) = match compressed {
                        Some(z) => (FrameKind::Zstd, z.clone()),
                        None => (FrameKind::Raw, item.raw.clone()),
                    };
                    member.pieces.push_back(frame_header(kind, payload.len()));
                    member.pieces.push_back(payload);
                }
            }
            member.offset = 0;
        }
        if let Some(piece) = member.pieces.front() {
            return Next::Bytes(piece.slice(member.offset..));
        }
        if !self.finished {
            return Next::Wait;
        }
        if !member.trailer_sent && !member.trailer.is_empty() {
            return Next::Bytes(member.trailer.clone());
        }
        Next::Done
    }

    /// `n` bytes of what [`Queue::next`] returned were sent.
    pub fn advance(&self, member: &mut MemberState, n: usize) {
        member.sent_bytes += n as u64;
        if !member.header.is_empty() {
            let _ = member.header.split_to(n.min(member.header.len()));
            return;
        }
        if let Some(piece) = member.pieces.front() {
            member.offset += n;
            if member.offset >= piece.len() {
                member.pieces.pop_front();
                member.offset = 0;
                if member.pieces.is_empty() {
                    member.chunk += 1;
                }
            }
            return;
        }
        let _ = member.trailer.split_to(n.min(member.trailer.len()));
        if member.trailer.is_empty() {
            member.trailer_sent = true;
        }
    }

    /// Drops chunks every live member has sent.
    pub fn release<'a>(&mut self, members: impl IntoIterator<Item = &'a MemberState>) {
        let slowest = members
            .into_iter()
            .filter(|m| m.live())
            .map(|m| m.chunk)
            .min()
            .unwrap_or(self.end());
        while self.first < slowest {
            match self.chunks.pop_front() {
                Some(item) => self.queued_bytes -= item.raw.len() as u64,
                None => break,
            }
            self.first += 1;
        }
    }

    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bytes: &'static [u8]) -> Item {
        Item {
            raw: Bytes::from_static(bytes),
            zstd: None,
        }
    }

    fn member(id: u64, window: u64) -> MemberState {
        MemberState::new(
            id,
            Bytes::from_static(b"H"),
            Bytes::from_static(b"T"),
            window,
        )
    }

    /// Sends everything available for `m`, returning the bytes.
    fn drain(q: &Queue, m: &mut MemberState) -> Vec<u8> {
        let mut out = Vec::new();
        while let Next::Bytes(b) = q.next(m) {
            out.extend_from_slice(&b);
            q.advance(m, b.len());
        }
        out
    }

    #[test]
    fn every_member_gets_header_chunks_and_trailer_in_order() {
        let mut q = Queue::default();
        let mut members = vec![member(1, 0), member(2, 0)];
        q.push(item(b"abc"));
        q.push(item(b"de"));
        q.finished = true;
        for m in members.iter_mut() {
            assert_eq!(drain(&q, m), b"HabcdeT");
            assert_eq!(q.next(m), Next::Done);
        }
        q.release(&members);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[test]
    fn short_sends_resume_inside_a_chunk() {
        let mut q = Queue::default();
        let mut m = member(1, 0);
        q.push(item(b"abcdef"));
        q.advance(&mut m, 1); // header
        assert_eq!(q.next(&mut m), Next::Bytes(Bytes::from_static(b"abcdef")));
        q.advance(&mut m, 2);
        assert_eq!(q.next(&mut m), Next::Bytes(Bytes::from_static(b"cdef")));
        q.advance(&mut m, 4);
        assert_eq!(q.next(&mut m), Next::Wait);
    }

    #[test]
    fn the_producer_follows_the_fastest_and_the_slow_member_is_dropped_alone() {
        let mut q = Queue::default();
        let mut members = vec![member(1, 10), member(2, 0)];
        let mut produced = 0;
        // Member 2 keeps up; member 1 never sends anything.
        for _ in 0..20 {
            while q.wants_more(&members) {
                q.push(item(b"xxxx"));
                produced += 1;
            }
            drain(&q, &mut members[1]);
            // As the engine does each round, whatever the member is doing.
            q.enforce_window(&mut members[0]);
            q.release(&members);
        }
        assert!(
            produced > 10,
            "the fast member was not held back: {produced}"
        );
        assert!(
            members[0].failed.is_some(),
            "the slow member passed its window"
        );
        assert!(members[1].live());
        // Once the slow one is gone, nothing is kept for it.
        assert!(q.queued_bytes() <= (FASTEST_AHEAD_CHUNKS * 4) as u64);
    }

    #[test]
    fn framed_members_get_frames_and_compressed_forms_when_they_lag_on_a_slow_link() {
        let mut q = Queue::default();
        let mut framed = member(1, 0);
        framed.framing = Framing::Frames { always: false };
        for _ in 0..SLOW_DRAIN_SAMPLES_FOR_LINK_BOUND {
            framed.note_drain_rate(12.5e6);
        }
        framed.header = Bytes::new();
        framed.trailer = Bytes::new();
        let z = Bytes::from_static(b"Z");
        for _ in 0..3 {
            q.push(Item {
                raw: Bytes::from_static(b"rawraw"),
                zstd: Some(z.clone()),
            });
        }
        q.finished = true;
        // Three chunks queued: it lags, so the first two go compressed; the last, with
        // nothing behind it, goes raw.
        let out = drain(&q, &mut framed);
        let zframe = [&frame_header(FrameKind::Zstd, 1)[..], b"Z"].concat();
        let rframe = [&frame_header(FrameKind::Raw, 6)[..], b"rawraw"].concat();
        assert_eq!(out, [zframe.clone(), zframe, rframe].concat());
    }

    #[test]
    fn only_a_lag_on_a_slow_link_makes_a_member_link_bound() {
        let mut m = member(1, 0);
        m.framing = Framing::Frames { always: false };
        let lagging_end = BEHIND_CHUNKS_FOR_COMPRESSION;
        let fast = 2.0 * LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX;
        m.note_lag(lagging_end);
        assert!(!m.link_bound, "no rate measured yet");
        m.note_drain_rate(fast);
        m.note_lag(lagging_end);
        assert!(
            !m.link_bound,
            "a fast link: the replica's loading is the bound"
        );
        // A slow start then a fast link: the start says nothing.
        let start = (SURELY_SLOW_DRAIN_BYTES_PER_SEC + LINK_BOUND_DRAIN_BYTES_PER_SEC_MAX) / 2.0;
        for _ in 1..SLOW_DRAIN_SAMPLES_FOR_LINK_BOUND {
            m.note_drain_rate(start);
            m.note_lag(lagging_end);
        }
        m.note_drain_rate(fast);
        m.note_lag(lagging_end);
        assert!(!m.link_bound, "slow only at the start");
        // 100 Mbit/s: one sample is enough.
        m.note_drain_rate(12.5e6);
        m.note_lag(lagging_end - 1);
        assert!(!m.link_bound, "a slow link that keeps up");
        m.note_lag(lagging_end);
        assert!(m.link_bound);
        m.note_lag(0);
        assert!(m.link_bound, "kept while it catches up");
        m.note_drain_rate(fast);
        assert!(!m.link_bound, "a fast sample ends it");
    }

    #[test]
    fn nothing_is_produced_without_a_live_member() {
        let q = Queue::default();
        assert!(!q.wants_more(&[] as &[MemberState]));
    }
}
