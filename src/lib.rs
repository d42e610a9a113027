//! sluice: a Redis-compatible server whose speciality is replication.
//!
//! Layers, from the wire inwards: [`net`] (sockets, tokio), [`resp`] (pure wire format),
//! [`cmd`] (one command per file, run under the server lock), [`store`] (the keyspace),
//! [`server`] (shared state), [`config`] (redis.conf and flags).

pub mod alloc;
pub mod boot;
pub mod cmd;
pub mod config;
pub mod durable;
pub mod expire;
pub mod fanout;
pub mod link;
pub mod log;
pub mod logging;
pub mod net;
pub mod repl;
pub mod resp;
pub mod script;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod util;

/// The Redis version sluice is compatible with and reports (INFO, HELLO): clients and
/// sentinel gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";
