//! Start-up: opening the durable log, loading the RDB file, replaying the log onto it, then
//! following the configured master. Above everything it starts.

pub mod replay;
pub mod startup;
