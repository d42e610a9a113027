//! Replication: the offset-addressed log every write's effect is appended to, the PSYNC
//! decision, the master side (replicas attached to us) and the replica side (our link to a
//! master). DESIGN.md §1 and §3 describe the protocol this follows.

pub mod apply;
pub mod failover;
pub mod master;
pub mod replica;
pub mod role;
pub mod wait;

pub use crate::log::{ReplIds, ReplLog};
