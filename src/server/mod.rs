//! Server-wide state. Everything commands touch lives in [`State`] behind one lock, taken once
//! per pipelined batch: commands execute one at a time, in one order, which is the order the
//! replication log will record.

pub mod blocking;
pub mod clients;
pub mod pubsub;
pub mod session;
pub mod stats;
pub mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::Config;
use crate::store::Db;

pub use session::Session;

/// A write's effect as it will be propagated to replicas: the db it applies to and its argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

pub struct State {
    pub dbs: Vec<Db>,
    pub config: Config,
    pub stats: stats::Stats,
    pub clients: clients::Clients,
    pub pubsub: pubsub::PubSub,
    pub watches: watch::Watches,
    pub blocking: blocking::Blocking,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    /// False on replicas: keys are only hidden once expired, never deleted locally.
    pub expire_deletes: bool,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the background cycle deletes expired keys.
    pub active_expire: bool,
    pub lastsave_unix: u64,
    /// Effects of executed writes not yet handed to the replication log.
    pub effects: Vec<Effect>,
    /// Cursor of the active expiry cycle: (db, segment).
    pub expire_cursor: (usize, usize),
    pub rng: rand::rngs::SmallRng,
}

impl State {
    pub fn new(config: Config) -> State {
        use rand::SeedableRng;
        let databases = config.databases.max(1);
        State {
            dbs: (0..databases).map(|_| Db::new()).collect(),
            config,
            stats: stats::Stats::default(),
            clients: clients::Clients::default(),
            pubsub: pubsub::PubSub::default(),
            watches: watch::Watches::default(),
            blocking: blocking::Blocking::default(),
            dirty: 0,
            expire_deletes: true,
            active_expire: true,
            lastsave_unix: unix_time_ms() / 1000,
            effects: Vec::new(),
            expire_cursor: (0, 0),
            rng: rand::rngs::SmallRng::from_os_rng(),
        }
    }
}

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
}

impl Server {
    pub fn new(config: Config) -> Arc<Server> {
        use rand::Rng;
        let mut rng = rand::rng();
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect();
        Arc::new(Server {
            state: Mutex::new(State::new(config)),
            started: Instant::now(),
            run_id,
            next_client_id: AtomicU64::new(1),
            shutdown_requested: AtomicBool::new(false),
            shutdown: Notify::new(),
            bound_port: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
        })
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }
}

pub fn unix_time_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn unix_time_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
