//! What a write hands to the replication log.

use bytes::Bytes;

/// A write's effect as it will be propagated to replicas: the db it applies to and its argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub db: usize,
    pub argv: Vec<Bytes>,
}
