//! The tasks that own replication sockets, above the command layer: the master side (a
//! connection that sent PSYNC becomes a replica stream, full syncs as jobs), the replica
//! side (the task that follows a master, started by [`replica::supervise`] for each new
//! replication epoch), and applying a master's command stream through the dispatcher.

pub mod apply;
pub mod master;
pub mod payload;
pub mod replica;
