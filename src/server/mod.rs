//! Server-wide state. Everything commands touch lives in [`State`] behind one lock, taken once
//! per pipelined batch: commands execute one at a time, in one order, which is the order the
//! replication log will record.

pub mod blocking;
pub mod clients;
pub mod clock;
pub mod latency;
pub mod migrate;
pub mod notify;
pub mod pause;
pub mod persistence;
pub mod propagate;
pub mod pubsub;
pub mod replication;
pub mod session;
pub mod shutdown;
pub mod slowlog;
pub mod stats;
pub mod tracking;
pub mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::Config;
use crate::store::Db;

pub use session::Session;

pub use crate::log::Effect;

pub struct State {
    pub dbs: Vec<Db>,
    pub config: Config,
    pub stats: stats::Stats,
    pub clients: clients::Clients,
    pub pubsub: pubsub::PubSub,
    /// CLIENT TRACKING: who may cache which keys.
    pub tracking: tracking::Tracking,
    /// Passes of `limit_tracking_table` in a row that left the table over its limit.
    pub tracking_eviction_rounds: u32,
    pub watches: watch::Watches,
    pub blocking: blocking::Blocking,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    /// False on replicas: keys are only hidden once expired, never deleted locally (see
    /// [`State::deletes_expired`], which pauses also stop).
    pub expire_deletes: bool,
    /// CLIENT PAUSE, FAILOVER's pause, and the keys MIGRATE holds.
    pub pauses: pause::Pauses,
    pub slowlog: slowlog::Slowlog,
    pub latency: latency::LatencyMonitor,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the background cycle deletes expired keys.
    pub active_expire: bool,
    pub lastsave_unix: u64,
    /// The RDB file is being loaded at start-up: commands without the LOADING flag are
    /// answered `-LOADING`.
    pub loading: bool,
    /// Saves in progress, their outcome, the loading progress (INFO persistence).
    pub persistence: persistence::Persistence,
    /// Effects of executed writes not yet handed to the replication log.
    pub effects: Vec<Effect>,
    pub repl: replication::ReplState,
    /// A SHUTDOWN waiting for replicas to catch up.
    pub shutdown_pending: Option<shutdown::PendingShutdown>,
    /// Cursor of the active expiry cycle: (db, segment).
    pub expire_cursor: (usize, usize),
    pub rng: rand::rngs::SmallRng,
    /// While a connection runs a batch: when the previous command of the batch ended, which
    /// is when the next one starts. It saves one clock read per command.
    pub batch_clock: Option<std::time::Instant>,
    /// The bytes of the request being executed, as received (see `dispatch::execute_request`).
    pub request_frame: Option<bytes::Bytes>,
    /// While a script runs: the Unix ms every one of its commands sees as now, so that a key
    /// cannot expire half-way through it (Redis's script time snapshot).
    pub script_time_ms: Option<u64>,
    /// The request's error reply was counted in the error statistics already: a script's
    /// error that a command it called produced (and counted), as Redis's
    /// `ignore_error_stats_update` marks it.
    pub error_reply_counted: bool,
    /// Function libraries (FUNCTION LOAD): data like keys, saved and replicated.
    pub functions: crate::script::library::Libraries,
}

impl State {
    pub fn new(config: Config) -> State {
        use rand::SeedableRng;
        let databases = config.databases.max(1);
        let backlog_bytes_max = config.repl_backlog_size;
        let hot_bytes_max = config.repl_log_hot_size;
        let mut state = State {
            dbs: (0..databases).map(|_| Db::new()).collect(),
            config,
            stats: stats::Stats::default(),
            clients: clients::Clients::default(),
            pubsub: pubsub::PubSub::default(),
            tracking: tracking::Tracking::default(),
            tracking_eviction_rounds: 0,
            watches: watch::Watches::default(),
            blocking: blocking::Blocking::default(),
            dirty: 0,
            expire_deletes: true,
            pauses: pause::Pauses::default(),
            slowlog: slowlog::Slowlog::default(),
            latency: latency::LatencyMonitor::default(),
            active_expire: true,
            lastsave_unix: unix_time_ms() / 1000,
            loading: false,
            persistence: persistence::Persistence::default(),
            effects: Vec::new(),
            repl: replication::ReplState::new(backlog_bytes_max),
            shutdown_pending: None,
            expire_cursor: (0, 0),
            rng: rand::rngs::SmallRng::from_os_rng(),
            batch_clock: None,
            request_frame: None,
            script_time_ms: None,
            error_reply_counted: false,
            functions: crate::script::library::Libraries::default(),
        };
        state.repl.hot_bytes_max = hot_bytes_max;
        let replid = state.repl.ids.replid;
        state.repl.log.set_replid(replid);
        state
    }

    /// Whether a script is running (its commands run nested in it).
    pub fn in_script(&self) -> bool {
        self.script_time_ms.is_some()
    }

    /// Whether expired keys are deleted now, lazily or by the active cycle. Not on a
    /// replica (its master sends the DELs) and not while clients are paused, as in Redis:
    /// nothing may move the offset a FAILOVER target must reach, or change the data a
    /// CLIENT PAUSE meant to hold still.
    pub fn deletes_expired(&self) -> bool {
        self.expire_deletes && self.pauses.active().is_none()
    }

    /// Ends a batch: pending effects become one record, the log is trimmed to its limits,
    /// and streaming replicas are told the new end.
    pub fn seal_log(&mut self) -> Option<u64> {
        self.log_effects();
        let record = self.repl.log.seal()?;
        if let Some(durable) = &self.repl.durable {
            // The hot tail cannot drop what is not on disk yet: the writer may lag by about
            // its size before writes wait for it.
            durable.append(
                record.clone(),
                self.repl.hot_bytes_max.max(LOG_LAG_BYTES_MIN),
            );
        }
        self.repl.trim_memory();
        Some(self.repl.log.end_offset())
    }
}

/// How often a task waiting for a script to end looks again.
pub const SCRIPT_POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// The durable log writer may always lag this much behind before writes wait for it.
const LOG_LAG_BYTES_MIN: u64 = 8 << 20;

/// The shared server: state under its lock, plus what is read without it.
pub struct Server {
    pub state: Mutex<State>,
    pub started: Instant,
    pub run_id: String,
    pub next_client_id: AtomicU64,
    pub shutdown_requested: AtomicBool,
    pub shutdown: Notify,
    /// The port actually bound (differs from the config when it says 0).
    pub bound_port: AtomicU64,
    /// Network byte counters, updated without the state lock.
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// End of the replication log after each sealed batch; replica streams wait on it.
    pub repl_offset: tokio::sync::watch::Sender<u64>,
    /// The replication configuration (`master_epoch`) a link task should follow: role
    /// changes set it, the link supervisor starts the task.
    pub link_epoch: tokio::sync::watch::Sender<u64>,
    /// `used_memory` once the server was set up, before any data loaded (INFO's
    /// `used_memory_startup`).
    pub startup_memory_bytes: AtomicU64,
    /// Sockets MIGRATE keeps open to its targets; used outside the state lock.
    pub migrate_sockets: migrate::TargetSockets,
    /// The Lua VM and its script cache, made on first use. Only taken while the state lock
    /// is held (commands run scripts under it), so it never waits on anything itself.
    pub scripts: Mutex<Option<crate::script::ScriptEngine>>,
    /// The Lua VM of function libraries (separate from EVAL's, as in Redis: SCRIPT FLUSH
    /// leaves functions alone). Follows `State::functions` by its generation.
    pub functions: Mutex<Option<crate::script::ScriptEngine>>,
    /// The script running now, readable without the state lock (BUSY replies, KILL).
    pub script_watch: Arc<crate::script::watch::ScriptWatch>,
    /// The server itself, for command handlers that start tasks holding it (REPLICAOF).
    pub this: std::sync::Weak<Server>,
}

impl Server {
    pub fn new(config: Config) -> Arc<Server> {
        use rand::Rng;
        let mut rng = rand::rng();
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect();
        Arc::new_cyclic(|this| Server {
            this: this.clone(),
            state: Mutex::new(State::new(config)),
            started: Instant::now(),
            run_id,
            next_client_id: AtomicU64::new(1),
            shutdown_requested: AtomicBool::new(false),
            shutdown: Notify::new(),
            bound_port: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            repl_offset: tokio::sync::watch::Sender::new(0),
            link_epoch: tokio::sync::watch::Sender::new(0),
            migrate_sockets: migrate::TargetSockets::default(),
            scripts: Mutex::new(None),
            functions: Mutex::new(None),
            script_watch: Arc::default(),
            startup_memory_bytes: AtomicU64::new(0),
        })
    }

    /// Seals the batch's effects into the log and wakes replica streams if it grew.
    pub fn seal_log(&self, state: &mut State) {
        if let Some(end) = state.seal_log()
            && !state.repl.replicas.is_empty()
        {
            self.repl_offset.send_replace(end);
        }
    }

    /// An owned handle to this server. Always succeeds while anyone holds `&self`, since
    /// the server lives in an `Arc` from creation.
    pub fn self_arc(&self) -> Arc<Server> {
        self.this
            .upgrade()
            .unwrap_or_else(|| unreachable!("Server is only created inside an Arc"))
    }

    /// Returns once no script holds the state lock. Tasks about to take the lock call it
    /// first: blocking on the lock during a long script would stall their thread, and with
    /// it the clients that should be answered BUSY meanwhile.
    pub async fn script_ended(&self) {
        while self.script_watch.running().is_some() {
            self.script_watch.tick();
            tokio::time::sleep(SCRIPT_POLL).await;
        }
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }
}

pub fn unix_time_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| crate::util::num::u64_saturating(d.as_millis()))
        .unwrap_or(0)
}

pub fn unix_time_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| crate::util::num::u64_saturating(d.as_micros()))
        .unwrap_or(0)
}
