//! Replication's transitions under the server lock: role changes (follow a master, stop),
//! WAIT's counts, FAILOVER's steps. The state is server data (`server::replication`); the
//! tasks that own sockets are in `link/`; the log itself is `log/`.

pub mod failover;
pub mod payload_format;
pub mod role;
pub mod wait;

pub use crate::log::{ReplIds, ReplLog};
