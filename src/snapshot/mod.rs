//! Snapshots of the keyspace as RDB: loading one into fresh databases, saving one to disk,
//! and loading the RDB file at start-up.

pub mod load;
pub mod save;
pub mod startup;

pub use save::Persistence;
