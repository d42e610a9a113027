//! The full-sync sender: a dedicated thread that owns the replica sockets for the length of a
//! transfer and fans each RDB chunk (encoded once, shared as `Bytes`) out to all of them.
//! Two drivers with one interface: io_uring (one submission carries a SEND per replica
//! socket, at most one in flight per socket) and a poll(2) loop where io_uring is refused
//! (containers often forbid it). ARCHITECTURE.md ("Why these dependencies") gives the reasons.
//!
//! The producer (the snapshot encoder) runs at the pace of the fastest replica; each replica
//! has its own window and is dropped alone when it falls further behind (see `queue`).

pub mod compressed;
pub mod level;
mod poll;
pub mod queue;
mod uring;

pub use uring::RingWriter;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

pub use queue::Framing;
use queue::{Item, MemberState, Next, Queue};

/// Which driver moves the bytes (`repl-io-engine`, INFO `repl_io_engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    IoUring,
    Poll,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::IoUring => "io_uring",
            Engine::Poll => "epoll",
        }
    }

    /// The engine for `repl-io-engine` (auto|io_uring|epoll): io_uring when asked for or
    /// auto and the kernel lets us use it, else the poll loop.
    pub fn choose(setting: crate::config::IoEngineSetting) -> Engine {
        match setting {
            crate::config::IoEngineSetting::Epoll => Engine::Poll,
            _ => match uring::probe() {
                Ok(()) => Engine::IoUring,
                Err(reason) => {
                    tracing::warn!(
                        "io_uring is not usable here ({reason}): full syncs use the epoll sender"
                    );
                    Engine::Poll
                }
            },
        }
    }
}

/// How one member's transfer ended: bytes sent, or why it stopped.
pub type MemberResult = Result<u64, String>;

/// A replica socket handed to the sender for one transfer.
pub struct Member {
    pub id: u64,
    pub framing: Framing,
    /// A duplicate of the connection's descriptor; the connection's own task does not touch
    /// the socket until `done` fires.
    pub fd: OwnedFd,
    pub header: Bytes,
    pub trailer: Bytes,
    /// Snapshot bytes that may be queued for this member before it is dropped (0: no limit).
    pub window_bytes: u64,
    pub done: tokio::sync::oneshot::Sender<MemberResult>,
}

/// One slot of the engine: the member's progress and its socket.
pub(crate) struct Slot {
    pub state: MemberState,
    pub fd: OwnedFd,
    pub done: Option<tokio::sync::oneshot::Sender<MemberResult>>,
    /// io_uring: the buffer of the send in flight (kept alive until its completion).
    pub in_flight: Option<Bytes>,
    pub polling: bool,
    /// When the rates were last sampled, and the member's wire and RDB bytes then.
    rate_mark: (Instant, u64, u64),
}

impl Slot {
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Whether the driver should try to send for this slot now.
    pub fn active(&self) -> bool {
        self.done.is_some() && self.state.live()
    }
}

/// Moves bytes for the slots: sends what each has ready and waits for progress, at most
/// `timeout`.
pub(crate) trait Driver {
    fn pump(&mut self, queue: &Queue, slots: &mut [Slot], timeout: Duration);
    /// Whether a slot's socket still has an operation in flight (its fd and buffer must live).
    fn busy(&self, slot: &Slot) -> bool {
        slot.in_flight.is_some() || slot.polling
    }
}

/// The producer's handle.
pub struct FanOut {
    chunks: Option<Sender<Item>>,
    thread: Option<std::thread::JoinHandle<()>>,
    aborted: std::sync::Arc<parking_lot::Mutex<Option<String>>>,
    /// Set by the engine while some member should get compressed chunks: only then does
    /// the producer spend the CPU on compressing (once per chunk, whatever the members).
    compression_wanted: Arc<AtomicBool>,
    /// The level, from measured throughput unless configured.
    level: level::LevelChooser,
    /// Wire bytes per second the fastest compressed member's link drains (f64 bits).
    link_rate: Arc<AtomicU64>,
    /// When the producer last got control back from `push`: the time until the next push
    /// is what encoding a chunk takes.
    last_push: Option<Instant>,
}

/// Hands members to a fan-out; the first chunk goes out once all expected members came.
#[derive(Clone, Debug)]
pub struct Registrar {
    members: Sender<Member>,
}

impl Registrar {
    /// False if the fan-out is gone (the member's result channel then says why).
    pub fn register(&self, member: Member) -> bool {
        self.members.send(member).is_ok()
    }
}

const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

impl FanOut {
    pub fn start(
        engine: Engine,
        expected: usize,
        compression_level: Option<i32>,
    ) -> std::io::Result<(FanOut, Registrar)> {
        // One chunk of slack: the encoder works on the next while this one is fanned out.
        let (chunks_tx, chunks_rx) = crossbeam_channel::bounded(1);
        let (members_tx, members_rx) = crossbeam_channel::unbounded();
        let aborted = std::sync::Arc::new(parking_lot::Mutex::new(None));
        let compression_wanted = Arc::new(AtomicBool::new(false));
        let link_rate = Arc::new(AtomicU64::new(0f64.to_bits()));
        let shared = Shared {
            aborted: aborted.clone(),
            compression_wanted: compression_wanted.clone(),
            link_rate: link_rate.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("sync-{}", engine.name()))
            .spawn(move || run(engine, expected, members_rx, chunks_rx, shared))?;
        Ok((
            FanOut {
                chunks: Some(chunks_tx),
                thread: Some(thread),
                aborted,
                compression_wanted,
                level: level::LevelChooser::new(compression_level),
                link_rate,
                last_push: None,
            },
            Registrar {
                members: members_tx,
            },
        ))
    }

    /// Queues a chunk, waiting while the fastest member has enough. False when no member is
    /// left to send to.
    pub fn push(&mut self, chunk: Bytes) -> bool {
        let zstd = if self.compression_wanted.load(Ordering::Relaxed) && self.level.wants_chunk() {
            let encode_secs = self.last_push.map_or(0.0, |at| at.elapsed().as_secs_f64());
            let started = Instant::now();
            let level = self.level.level();
            let zstd = crate::fanout::compressed::compress(&chunk, level);
            let link_rate = f64::from_bits(self.link_rate.load(Ordering::Relaxed));
            let change = self.level.note_chunk(
                chunk.len() as u64,
                zstd.as_ref().map_or(chunk.len(), |z| z.len()) as u64,
                encode_secs,
                started.elapsed().as_secs_f64(),
                link_rate,
            );
            match change {
                Some(
                    change @ (level::Change::Incompressible { .. }
                    | level::Change::Compressible { .. }),
                ) => tracing::info!(level, "full-sync zstd: {}", describe(change)),
                Some(change) => tracing::info!(
                    from = level,
                    to = self.level.level(),
                    "full-sync zstd level changed: {}",
                    describe(change)
                ),
                None => {}
            }
            zstd
        } else {
            None
        };
        let item = Item { raw: chunk, zstd };
        let sent = match &self.chunks {
            Some(tx) => tx.send(item).is_ok(),
            None => false,
        };
        self.last_push = Some(Instant::now());
        sent
    }

    /// The snapshot failed: members end with this error instead of a trailer (a replica
    /// would otherwise see a payload that ends early with a valid end mark).
    pub fn abort(mut self, reason: &str) {
        *self.aborted.lock() = Some(reason.to_string());
        self.finish_inner();
    }

    /// No more chunks: members finish with their trailer. Waits for the engine to end.
    pub fn finish(mut self) {
        self.finish_inner();
    }

    fn finish_inner(&mut self) {
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FanOut {
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn describe(change: level::Change) -> String {
    match change {
        level::Change::Up {
            producer_rate,
            link_rate,
        } => format!(
            "the encoder makes {:.0} MB/s, the link takes {:.0} MB/s of RDB",
            producer_rate / 1e6,
            link_rate / 1e6
        ),
        level::Change::Down {
            producer_rate,
            link_rate,
        } => format!(
            "the encoder makes only {:.0} MB/s, the link takes {:.0} MB/s of RDB",
            producer_rate / 1e6,
            link_rate / 1e6
        ),
        level::Change::Incompressible { ratio } => format!(
            "level 1 kept {:.1} % of the data: compressing one chunk in {} only",
            ratio * 100.0,
            level::PROBE_EVERY_CHUNKS
        ),
        level::Change::Compressible { ratio } => format!(
            "a probe compressed to {:.1} %: compressing every chunk again",
            ratio * 100.0
        ),
        level::Change::NoGain { ratio, below_ratio } => format!(
            "compressed to {:.1} % instead of {:.1} %, not worth the time",
            ratio * 100.0,
            below_ratio * 100.0
        ),
    }
}

/// What the engine shares with the producer.
struct Shared {
    aborted: Arc<parking_lot::Mutex<Option<String>>>,
    compression_wanted: Arc<AtomicBool>,
    link_rate: Arc<AtomicU64>,
}

/// How often the links' rates are sampled for the level choice.
const LINK_RATE_INTERVAL: Duration = Duration::from_millis(250);

/// Notes every member's drain rate over the last interval, and publishes the wire rate of
/// the fastest member receiving compressed chunks.
fn sample_link_rates(slots: &mut [Slot], queue_end: u64, link_rate: &AtomicU64) {
    let now = Instant::now();
    let mut fastest: Option<f64> = None;
    for slot in slots.iter_mut() {
        let (at, sent, rdb_taken) = slot.rate_mark;
        let secs = now.duration_since(at).as_secs_f64();
        if secs < LINK_RATE_INTERVAL.as_secs_f64() {
            continue;
        }
        let rate = (slot.state.sent_bytes - sent) as f64 / secs;
        if slot.active() {
            slot.state
                .note_drain_rate((slot.state.rdb_bytes_taken - rdb_taken) as f64 / secs);
        }
        if slot.active() && slot.state.wants_compression(queue_end) {
            fastest = Some(fastest.map_or(rate, |f| f.max(rate)));
        }
        slot.rate_mark = (now, slot.state.sent_bytes, slot.state.rdb_bytes_taken);
    }
    if let Some(rate) = fastest {
        link_rate.store(rate.to_bits(), Ordering::Relaxed);
    }
}

fn run(
    engine: Engine,
    expected: usize,
    members: Receiver<Member>,
    chunks: Receiver<Item>,
    shared: Shared,
) {
    let aborted = shared.aborted;
    let mut driver: Box<dyn Driver> = match engine {
        Engine::IoUring => match uring::UringDriver::new() {
            Ok(d) => Box::new(d),
            Err(e) => {
                tracing::warn!("io_uring ring not created ({e}); using the epoll sender");
                Box::new(poll::PollDriver)
            }
        },
        Engine::Poll => Box::new(poll::PollDriver),
    };
    let mut slots: Vec<Slot> = Vec::new();
    let mut queue = Queue::default();
    // Every member must be there before the first chunk: a late one would miss it.
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    while slots.len() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match members.recv_timeout(left) {
            Ok(member) => slots.push(slot(member)),
            Err(_) => break,
        }
    }
    if slots.len() < expected {
        tracing::warn!(
            registered = slots.len(),
            expected,
            "full sync starts without members that did not register in time"
        );
    }
    loop {
        loop {
            let wants = queue.wants_more(states(&slots));
            if !wants {
                break;
            }
            match chunks.try_recv() {
                Ok(chunk) => queue.push(chunk),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    queue.finished = true;
                    fail_all_if_aborted(&aborted, &mut slots);
                }
            }
        }
        // A member stuck on a full socket has an operation in flight and is not asked for
        // its next bytes: its window is checked here, and its socket shut down, which ends
        // whatever it waits for.
        for slot in slots.iter_mut().filter(|s| s.active()) {
            if queue.enforce_window(&mut slot.state) {
                // SAFETY: shutting down a socket whose descriptor the slot owns.
                unsafe { libc::shutdown(slot.raw_fd(), libc::SHUT_RDWR) };
            }
        }
        let end = queue.end();
        for slot in slots.iter_mut().filter(|s| s.active()) {
            slot.state.note_lag(end);
        }
        let compress = slots
            .iter()
            .any(|s| s.active() && s.state.wants_compression(end));
        shared.compression_wanted.store(compress, Ordering::Relaxed);
        sample_link_rates(&mut slots, end, &shared.link_rate);
        finish_done(&queue, &mut slots, driver.as_ref());
        if slots.iter().all(|s| s.done.is_none() && !driver.busy(s)) {
            return;
        }
        let ready = slots
            .iter_mut()
            .any(|s| s.active() && matches!(queue.next(&mut s.state), Next::Bytes(_)));
        if ready || slots.iter().any(|s| driver.busy(s)) {
            let wants = queue.wants_more(states(&slots));
            let timeout = if wants {
                Duration::from_millis(2)
            } else {
                Duration::from_millis(100)
            };
            driver.pump(&queue, &mut slots, timeout);
        } else if queue.wants_more(states(&slots)) {
            // Everyone is waiting for the producer.
            match chunks.recv_timeout(Duration::from_millis(100)) {
                Ok(chunk) => queue.push(chunk),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    queue.finished = true;
                    fail_all_if_aborted(&aborted, &mut slots);
                }
            }
        }
        queue.release(states(&slots));
    }
}

fn fail_all_if_aborted(aborted: &parking_lot::Mutex<Option<String>>, slots: &mut [Slot]) {
    if let Some(reason) = aborted.lock().as_ref() {
        for slot in slots.iter_mut() {
            slot.state
                .failed
                .get_or_insert_with(|| format!("snapshot failed: {reason}"));
        }
    }
}

/// The members still being served.
fn states(slots: &[Slot]) -> impl Iterator<Item = &MemberState> {
    slots.iter().filter(|s| s.done.is_some()).map(|s| &s.state)
}

fn slot(member: Member) -> Slot {
    let mut state = MemberState::new(
        member.id,
        member.header,
        member.trailer,
        member.window_bytes,
    );
    state.framing = member.framing;
    Slot {
        state,
        fd: member.fd,
        done: Some(member.done),
        in_flight: None,
        polling: false,
        rate_mark: (Instant::now(), 0, 0),
    }
}

/// Reports members that finished or failed (once nothing of theirs is in flight).
fn finish_done(queue: &Queue, slots: &mut [Slot], driver: &dyn Driver) {
    for slot in slots.iter_mut() {
        if slot.done.is_none() || driver.busy(slot) {
            continue;
        }
        let finished = slot.state.failed.is_some() || queue.next(&mut slot.state) == Next::Done;
        let result = finished.then(|| match &slot.state.failed {
            Some(reason) => Err(reason.clone()),
            None => Ok(slot.state.sent_bytes),
        });
        if let Some(result) = result
            && let Some(done) = slot.done.take()
        {
            let _ = done.send(result);
        }
    }
}
