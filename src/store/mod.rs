//! The keyspace: databases of segments holding reference-counted values.

pub mod db;
pub mod fast;
pub mod field_expiry;
pub mod hash;
pub mod key;
pub mod str_value;
pub mod stream;
pub mod value;
pub mod zset;

pub use db::{Db, DbSnapshot, Entry, SEGMENTS_PER_DB};
pub use key::Key;
pub use str_value::StrValue;
pub use value::{Value, ValueType};
pub use zset::{Score, ZSet};
