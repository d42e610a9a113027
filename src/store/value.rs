//! Values stored under keys.
//!
//! Collections sit behind `Arc` so that cloning a value (as a snapshot does when it copies a
//! segment's table) is a pointer copy; a write to a shared collection copies it first
//! (`Arc::make_mut`), which is the copy-on-write step of fork-free snapshots.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

pub use super::hash::Hash;
use super::str_value::StrValue;
use super::stream::Stream;
use super::zset::ZSet;

pub use super::fast::{FastMap, FastSet};

pub type List = VecDeque<Bytes>;
pub type Set = FastSet<Bytes>;

// Every entry of the keyspace holds a Value: an inline string must not make it larger than
// the `Bytes` it replaced.
const _: () = assert!(std::mem::size_of::<Value>() <= 40);

#[derive(Debug, Clone)]
pub enum Value {
    Str(StrValue),
    List(Arc<List>),
    Hash(Arc<Hash>),
    Set(Arc<Set>),
    ZSet(Arc<ZSet>),
    Stream(Arc<Stream>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Str,
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

impl ValueType {
    /// The name TYPE returns.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Str => "string",
            ValueType::List => "list",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
            ValueType::Stream => "stream",
        }
    }

    /// Parses the TYPE argument of SCAN (Redis accepts the names TYPE returns).
    pub fn from_name(name: &[u8]) -> Option<ValueType> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_slice() {
            b"string" => ValueType::Str,
            b"list" => ValueType::List,
            b"hash" => ValueType::Hash,
            b"set" => ValueType::Set,
            b"zset" => ValueType::ZSet,
            b"stream" => ValueType::Stream,
            _ => return None,
        })
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Str(_) => ValueType::Str,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::ZSet(_) => ValueType::ZSet,
            Value::Stream(_) => ValueType::Stream,
        }
    }

    pub fn new_list() -> Value {
        Value::List(Arc::new(List::new()))
    }

    pub fn new_hash() -> Value {
        Value::Hash(Arc::new(Hash::default()))
    }

    pub fn new_set() -> Value {
        Value::Set(Arc::new(Set::default()))
    }

    pub fn new_zset() -> Value {
        Value::ZSet(Arc::new(ZSet::default()))
    }

    pub fn new_stream() -> Value {
        Value::Stream(Arc::new(Stream::default()))
    }

    /// True for a collection with no elements; Redis deletes such keys (never a stream,
    /// which keeps its last ID and groups when empty).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Stream(_) => false,
        }
    }

    /// Approximate heap bytes, for `used_memory`-style estimates and limits.
    pub fn approx_bytes(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::List(l) => l.iter().map(|e| e.len() + 32).sum(),
            Value::Hash(h) => h.approx_bytes(),
            Value::Set(s) => s.iter().map(|e| e.len() + 40).sum(),
            Value::ZSet(z) => z.len() * 96,
            Value::Stream(s) => s.approx_bytes(),
        }
    }
}
