//! Expiry times of single hash fields (Redis 7.4's hash field expiration), kept beside the
//! hash's fields, and the per-database index of hashes that have any.
//!
//! Most hashes never get a field TTL, so a hash holds its times behind an `Option<Box<_>>`:
//! one pointer when unused. The earliest time is cached, so that "is anything due?" (asked
//! on every access to a hash that has TTLs) is one comparison.

use std::collections::VecDeque;

use bytes::Bytes;

use super::fast::{FastMap, FastSet};

/// Largest field expiry time Redis accepts, in Unix ms (`EB_EXPIRE_TIME_MAX`, 2^48 - 1).
/// Larger times are refused by the commands and are corruption in a dump.
pub const FIELD_EXPIRE_AT_MS_MAX: u64 = (1 << 48) - 1;

/// The fields of one hash that have an expiry time.
#[derive(Debug, Clone, Default)]
pub struct FieldTimes {
    at_ms: FastMap<Bytes, u64>,
    /// The smallest value of `at_ms`; meaningless while `at_ms` is empty.
    earliest_ms: u64,
}

impl FieldTimes {
    pub fn len(&self) -> usize {
        self.at_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at_ms.is_empty()
    }

    pub fn get(&self, field: &[u8]) -> Option<u64> {
        self.at_ms.get(field).copied()
    }

    pub fn earliest(&self) -> Option<u64> {
        (!self.at_ms.is_empty()).then_some(self.earliest_ms)
    }

    pub fn set(&mut self, field: &[u8], at_ms: u64) {
        debug_assert!(at_ms <= FIELD_EXPIRE_AT_MS_MAX);
        let previous = match self.at_ms.get_mut(field) {
            Some(slot) => Some(std::mem::replace(slot, at_ms)),
            None => {
                self.at_ms.insert(Bytes::copy_from_slice(field), at_ms);
                None
            }
        };
        if self.at_ms.len() == 1 || at_ms < self.earliest_ms {
            self.earliest_ms = at_ms;
        } else if previous == Some(self.earliest_ms) && at_ms > self.earliest_ms {
            self.recompute_earliest();
        }
    }

    /// Forgets `field`'s time; returns true if it had one.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.at_ms.remove(field) {
            Some(at_ms) => {
                if at_ms == self.earliest_ms {
                    self.recompute_earliest();
                }
                true
            }
            None => false,
        }
    }

    /// Up to `limit` fields whose time is at or before `now_ms`.
    pub fn due(&self, now_ms: u64, limit: usize) -> Vec<Bytes> {
        if self.earliest().is_none_or(|at| at > now_ms) {
            return Vec::new();
        }
        self.at_ms
            .iter()
            .filter(|(_, at)| **at <= now_ms)
            .take(limit)
            .map(|(f, _)| f.clone())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, u64)> {
        self.at_ms.iter().map(|(f, at)| (f, *at))
    }

    fn recompute_earliest(&mut self) {
        self.earliest_ms = self.at_ms.values().copied().min().unwrap_or(0);
    }
}

/// Keys of one database whose hash may have field expiry times: every such hash's key is
/// here (the invariant the active cycle and the snapshot format rely on), and a key may stay
/// after its hash lost its last time or was deleted, until the active cycle visits it.
/// Round-robin order, so that the cycle visits every key in turn.
#[derive(Debug, Clone, Default)]
pub struct FieldExpiryIndex {
    order: VecDeque<Bytes>,
    members: FastSet<Bytes>,
}

impl FieldExpiryIndex {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        !self.members.is_empty() && self.members.contains(key)
    }

    pub fn add(&mut self, key: &[u8]) {
        if !self.members.contains(key) {
            let key = Bytes::copy_from_slice(key);
            self.members.insert(key.clone());
            self.order.push_back(key);
        }
    }

    /// The next key to visit; it leaves the index until [`FieldExpiryIndex::add`] puts it
    /// back.
    pub fn pop(&mut self) -> Option<Bytes> {
        let key = self.order.pop_front()?;
        self.members.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_follows_sets_and_removals() {
        let mut times = FieldTimes::default();
        assert_eq!(times.earliest(), None);
        times.set(b"a", 30);
        times.set(b"b", 10);
        times.set(b"c", 20);
        assert_eq!(times.earliest(), Some(10));
        times.set(b"b", 40);
        assert_eq!(times.earliest(), Some(20));
        assert!(times.remove(b"c"));
        assert_eq!(times.earliest(), Some(30));
        assert!(!times.remove(b"c"));
        times.set(b"a", 5);
        assert_eq!(times.earliest(), Some(5));
        assert_eq!(times.due(4, 10), Vec::<Bytes>::new());
        assert_eq!(times.due(5, 10), vec![Bytes::from_static(b"a")]);
        let mut due = times.due(100, 10);
        due.sort();
        assert_eq!(
            due,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        assert_eq!(times.due(100, 1).len(), 1);
        times.remove(b"a");
        times.remove(b"b");
        assert!(times.is_empty());
        assert_eq!(times.earliest(), None);
    }

    #[test]
    fn the_index_visits_keys_in_turn_once_each() {
        let mut index = FieldExpiryIndex::default();
        index.add(b"x");
        index.add(b"y");
        index.add(b"x");
        assert_eq!(index.len(), 2);
        assert!(index.contains(b"x"));
        assert_eq!(index.pop().as_deref(), Some(&b"x"[..]));
        assert!(!index.contains(b"x"));
        index.add(b"x");
        assert_eq!(index.pop().as_deref(), Some(&b"y"[..]));
        assert_eq!(index.pop().as_deref(), Some(&b"x"[..]));
        assert_eq!(index.pop(), None);
        assert!(index.is_empty());
    }
}
