//! Snapshots of the keyspace as RDB: loading one into fresh databases.

pub mod load;
