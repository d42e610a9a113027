//! Snapshots of the keyspace as RDB: taking a point-in-time view and encoding it, loading
//! one into fresh databases, saving one to disk, and loading the RDB file at start-up.

pub mod load;
pub mod save;
pub mod startup;
pub mod view;

pub use save::Persistence;
