//! Snapshots of the keyspace as RDB: taking a point-in-time view and encoding it, loading
//! one into fresh databases, saving one to disk (the start-up load is `boot::startup`).

pub mod dump;
pub mod load;
pub mod save;
pub mod stream_model;
pub mod view;

pub use save::Persistence;
