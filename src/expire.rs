//! The active expiry cycle: deletes keys whose time has passed even if nobody reads them.
//! Runs from the server cron under the lock, with a time budget per run and a cursor over
//! (db, segment) so that successive runs cover the whole keyspace.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::server::{Effect, State};

/// Keys examined between two clock checks.
const KEYS_PER_CHECK: usize = 64;

/// Deletes expired keys until the budget is spent or a full pass found nothing; returns how
/// many keys were deleted. Does nothing on a replica (its master sends the DELs).
pub fn active_expire_cycle(state: &mut State, now_ms: u64, budget: Duration) -> usize {
    if !state.expire_deletes || !state.active_expire {
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
    use crate::store::{Entry, Value};

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
