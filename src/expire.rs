//! The active expiry cycle: deletes keys whose time has passed even if nobody reads them.
//! Runs from the server cron under the lock, with a time budget per run and a cursor over
//! (db, segment) so that successive runs cover the whole keyspace.

use crate::config::keyspace_events;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::server::{Effect, State};
use crate::store::Value;

/// Keys examined between two clock checks.
const KEYS_PER_CHECK: usize = 64;

/// Hashes with field expiry times one cron run visits at most (per database).
pub const FIELD_KEYS_PER_RUN: usize = 1000;

/// Fields one visit of a hash deletes at most: a hash with a million due fields is emptied
/// over several cron runs instead of stalling one.
const FIELDS_PER_VISIT: usize = 1024;

/// Deletes up to `limit` fields of the hash at `key` in `db` whose expiry time is at or
/// before `now_ms`, and the key with its last field. The deletion is propagated as one
/// HDEL, which on a replica also deletes the key with its last field, as Redis propagates
/// it (no DEL). Returns how many fields went. The caller decides that this server deletes
/// (a master); a replica waits for its master's HDEL.
pub fn delete_due_fields(
    state: &mut State,
    db: usize,
    key: &[u8],
    now_ms: u64,
    limit: usize,
) -> usize {
    let due = match state.dbs[db].get(key).map(|e| &e.value) {
        Some(Value::Hash(hash)) if hash.next_field_expiry().is_some_and(|at| at <= now_ms) => {
            hash.due_fields(now_ms, limit)
        }
        _ => return 0,
    };
    if due.is_empty() {
        return 0;
    }
    let emptied = match state.dbs[db].get_mut(key).map(|e| &mut e.value) {
        Some(Value::Hash(hash)) => {
            let hash = Arc::make_mut(hash);
            for field in &due {
                hash.remove(field);
            }
            hash.is_empty()
        }
        _ => false,
    };
    if emptied {
        state.dbs[db].remove(key);
    }
    state.watches.touch(db, key);
    state.stats.expired_subkeys += due.len() as u64;
    let mut argv = Vec::with_capacity(due.len() + 2);
    argv.push(Bytes::from_static(b"HDEL"));
    argv.push(Bytes::copy_from_slice(key));
    let deleted = due.len();
    argv.extend(due);
    // Straight to the log's queue: the deletion precedes the effect of whatever command
    // found the fields due.
    state.queue_effect(Effect { db, argv });
    deleted
}

/// Visits hashes with field expiry times in turn and deletes their due fields, until
/// `keys_max` hashes were visited or each once; returns how many fields went. On a replica
/// (`deletes` false) it only drops keys from the index whose hash has no times left.
pub fn active_expire_fields(state: &mut State, now_ms: u64, keys_max: usize) -> usize {
    let deletes = state.deletes_expired() && state.active_expire;
    let mut deleted = 0;
    for db in 0..state.dbs.len() {
        let mut visits = state.dbs[db].field_expiry_index().len().min(keys_max);
        while visits > 0 {
            visits -= 1;
            let Some(key) = state.dbs[db].field_expiry_index().pop() else {
                break;
            };
            if deletes {
                deleted += delete_due_fields(state, db, &key, now_ms, FIELDS_PER_VISIT);
            }
            let still_timed = matches!(
                state.dbs[db].get(&key).map(|e| &e.value),
                Some(Value::Hash(h)) if h.has_field_expiry()
            );
            if still_timed {
                state.dbs[db].note_field_expiry(&key);
            }
        }
    }
    deleted
}

/// Deletes expired keys until the budget is spent or a full pass found nothing; returns how
/// many keys were deleted. Does nothing on a replica (its master sends the DELs).
pub fn active_expire_cycle(state: &mut State, now_ms: u64, budget: Duration) -> usize {
    if !state.deletes_expired() || !state.active_expire {
        return 0;
    }
    let started = Instant::now();
    let mut deleted = 0;
    let db_count = state.dbs.len();
    let (mut db, mut segment) = state.expire_cursor;
    let mut visited = 0;
    let total_segments = db_count * crate::store::SEGMENTS_PER_DB;
    while visited < total_segments {
        if db >= db_count {
            db = 0;
        }
        if state.dbs[db].volatile_len() == 0 {
            visited += crate::store::SEGMENTS_PER_DB - segment;
            db += 1;
            segment = 0;
            continue;
        }
        let expired = state.dbs[db].expired_in_segment(segment, now_ms, KEYS_PER_CHECK);
        for key in &expired {
            state.dbs[db].remove(key);
            state.watches.touch(db, key);
            state.queue_effect(Effect {
                db,
                argv: vec![Bytes::from_static(b"DEL"), key.clone()],
            });
            state.notify_keyspace_event(db, keyspace_events::EXPIRED, "expired", key, None);
            if state.tracking.active() {
                let invalidations = state.tracking.invalidate(key, None);
                state.deliver_invalidations(invalidations, None);
            }
        }
        state.stats.expired_keys += expired.len() as u64;
        deleted += expired.len();
        if expired.len() < KEYS_PER_CHECK {
            segment += 1;
            visited += 1;
        }
        if segment >= crate::store::SEGMENTS_PER_DB {
            segment = 0;
            db += 1;
        }
        if started.elapsed() >= budget {
            break;
        }
    }
    state.expire_cursor = (db, segment);
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::Entry;
    use crate::store::value::Hash;

    fn timed_hash(fields: &[(&str, Option<u64>)]) -> Value {
        let mut hash: Hash = fields.iter().map(|(f, _)| (f.as_bytes(), b"v")).collect();
        for (f, at) in fields {
            if let Some(at) = at {
                assert!(hash.set_field_expiry(f.as_bytes(), *at));
            }
        }
        Value::Hash(Arc::new(hash))
    }

    #[test]
    fn due_fields_go_as_one_hdel_and_the_key_with_its_last_field() {
        let mut state = State::new(Config::default());
        state.dbs[1].insert(
            Bytes::from_static(b"h"),
            Entry::new(timed_hash(&[
                ("a", Some(100)),
                ("b", Some(200)),
                ("c", None),
            ])),
        );
        state.dbs[1].insert(
            Bytes::from_static(b"gone"),
            Entry::new(timed_hash(&[("x", Some(50))])),
        );
        assert!(state.dbs[1].may_have_field_expiry(b"h"));
        assert_eq!(active_expire_fields(&mut state, 150, 100), 2);
        let Some(Value::Hash(h)) = state.dbs[1].get(b"h").map(|e| &e.value) else {
            panic!("h is still a hash");
        };
        assert_eq!(h.len(), 2);
        assert_eq!(h.field_expiry(b"b"), Some(200));
        assert!(state.dbs[1].get(b"gone").is_none());
        let mut effects: Vec<Vec<Bytes>> = state.effects.iter().map(|e| e.argv.clone()).collect();
        effects.sort();
        assert_eq!(
            effects,
            vec![
                vec![
                    Bytes::from_static(b"HDEL"),
                    Bytes::from_static(b"gone"),
                    Bytes::from_static(b"x")
                ],
                vec![
                    Bytes::from_static(b"HDEL"),
                    Bytes::from_static(b"h"),
                    Bytes::from_static(b"a")
                ],
            ]
        );
        assert_eq!(state.stats.expired_subkeys, 2);
        // The hash that still has a time stays indexed; the deleted key left the index.
        assert!(state.dbs[1].may_have_field_expiry(b"h"));
        assert!(!state.dbs[1].may_have_field_expiry(b"gone"));
        assert_eq!(active_expire_fields(&mut state, 250, 100), 1);
        assert!(!state.dbs[1].may_have_field_expiry(b"h"));
    }

    #[test]
    fn a_replica_keeps_due_fields_for_its_master_to_delete() {
        let mut state = State::new(Config::default());
        state.expire_deletes = false;
        state.dbs[0].insert(
            Bytes::from_static(b"h"),
            Entry::new(timed_hash(&[("a", Some(100))])),
        );
        assert_eq!(active_expire_fields(&mut state, 500, 100), 0);
        assert!(state.dbs[0].get(b"h").is_some());
        assert!(state.effects.is_empty());
        assert!(state.dbs[0].may_have_field_expiry(b"h"));
    }

    #[test]
    fn deletes_only_expired_keys_and_propagates_del() {
        let mut state = State::new(Config::default());
        for i in 0..1000u64 {
            let expire = if i % 2 == 0 { Some(100) } else { Some(10_000) };
            state.dbs[3].insert(
                Bytes::from(format!("k{i}")),
                Entry {
                    value: Value::Str(b"v".as_slice().into()),
                    expire_at_ms: expire,
                },
            );
        }
        state.dbs[0].insert(
            Bytes::from_static(b"persistent"),
            Entry::new(Value::Str(Default::default())),
        );
        let deleted = active_expire_cycle(&mut state, 5_000, Duration::from_secs(5));
        assert_eq!(deleted, 500);
        assert_eq!(state.dbs[3].len(), 500);
        assert_eq!(state.dbs[0].len(), 1);
        assert_eq!(state.effects.len(), 500);
        assert!(
            state
                .effects
                .iter()
                .all(|e| e.db == 3 && e.argv[0].as_ref() == b"DEL")
        );
        state.expire_deletes = false;
        assert_eq!(
            active_expire_cycle(&mut state, 50_000, Duration::from_secs(5)),
            0
        );
    }
}
