//! Point-in-time snapshots of the keyspace and their RDB encoding.
//!
//! Taking a snapshot clones each database's vector of segment pointers under the lock (no
//! keys are copied); writes afterwards copy the segments they touch. Encoding then runs on its
//! own thread, without the lock, at the snapshot's exact log offset.

use bytes::Bytes;
use sluice_rdb::{EncodeError, Encoder, EncoderOptions, SnapshotAux};

use crate::server::State;
use crate::store::{DbSnapshot, Value};

/// A consistent view of every database at one replication offset.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub dbs: Vec<DbSnapshot>,
    pub replid: String,
    /// Log offset the snapshot corresponds to: a replica loading it continues from here.
    pub offset: u64,
    /// Db selected in the stream at `offset` (RDB aux `repl-stream-db`).
    pub stream_db: u32,
    pub ctime_secs: u64,
    pub keys: u64,
    /// The durable log `offset` refers to: a file written from this snapshot becomes its
    /// replay base once the log is durable past `offset`.
    pub durable: Option<std::sync::Arc<crate::durable::DurableLog>>,
}

/// Takes a snapshot at the current end of the log. The caller holds the lock; the cost is one
/// pointer copy per segment. Pending effects are sealed first so the offset is exact.
pub fn take(state: &mut State) -> Snapshot {
    state.seal_log();
    let offset = state.repl.log.end_offset();
    let stream_db = state.repl.log.stream_db().unwrap_or(0);
    Snapshot {
        dbs: state.dbs.iter().map(|db| db.snapshot()).collect(),
        replid: state.repl.ids.replid.clone(),
        offset,
        stream_db,
        ctime_secs: crate::server::unix_time_ms() / 1000,
        keys: state.dbs.iter().map(|db| db.len() as u64).sum(),
        durable: state.repl.durable.clone(),
    }
}

/// Encodes a snapshot as RDB, handing each chunk to `sink` as soon as it is full. Stops early
/// (returning Ok(false)) when `sink` returns false, e.g. because every receiver went away.
pub fn encode(
    snapshot: &Snapshot,
    options: EncoderOptions,
    mut sink: impl FnMut(Bytes) -> bool,
) -> Result<bool, EncodeError> {
    let mut encoder = Encoder::new(options);
    encoder.write_snapshot_aux(&SnapshotAux {
        redis_ver: crate::REDIS_VERSION,
        ctime_secs: snapshot.ctime_secs,
        used_mem_bytes: crate::alloc::allocated_bytes(),
        repl_stream_db: snapshot.stream_db,
        repl_id: &snapshot.replid,
        repl_offset: snapshot.offset,
    });
    for (index, db) in snapshot.dbs.iter().enumerate() {
        if db.keys == 0 {
            continue;
        }
        encoder.select_db(index as u32);
        encoder.resize_db(db.keys as u64, db.volatile as u64);
        for segment in &db.segments {
            for (key, entry) in segment.iter() {
                let expire = entry.expire_at_ms;
                match &entry.value {
                    Value::Str(s) => encoder.write_string(key, s, expire),
                    Value::List(l) => encoder.write_list(key, l.iter(), expire)?,
                    Value::Set(s) => encoder.write_set(key, s.iter(), expire)?,
                    Value::Hash(h) => encoder.write_hash(key, h.iter(), expire)?,
                    Value::ZSet(z) => encoder.write_zset(key, z.iter(), expire)?,
                }
                while let Some(chunk) = encoder.pop_chunk() {
                    if !sink(chunk) {
                        return Ok(false);
                    }
                }
            }
        }
    }
    for chunk in encoder.finish() {
        if !sink(chunk) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{Entry, ZSet};
    use std::sync::Arc;

    #[test]
    fn snapshot_encodes_the_view_at_its_offset_not_later_writes() {
        let mut state = State::new(Config::default());
        state.dbs[0].insert(
            Bytes::from_static(b"s"),
            Entry::new(Value::Str(Bytes::from_static(b"before"))),
        );
        let mut z = ZSet::default();
        z.insert(Bytes::from_static(b"m"), 1.5);
        state.dbs[2].insert(
            Bytes::from_static(b"z"),
            Entry {
                value: Value::ZSet(Arc::new(z)),
                expire_at_ms: Some(4_000_000_000_000),
            },
        );
        let snap = take(&mut state);
        state.dbs[0].insert(
            Bytes::from_static(b"s"),
            Entry::new(Value::Str(Bytes::from_static(b"after"))),
        );
        state.dbs[0].insert(
            Bytes::from_static(b"new"),
            Entry::new(Value::Str(Bytes::new())),
        );
        let mut rdb = Vec::new();
        assert!(
            encode(&snap, EncoderOptions::default(), |c| {
                rdb.extend_from_slice(&c);
                true
            })
            .unwrap()
        );
        let items = sluice_rdb::decode_all(&rdb, sluice_rdb::DecodeLimits::default()).unwrap();
        let entries: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                sluice_rdb::Item::Entry(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(entries.len(), 2);
        let s = entries.iter().find(|e| e.key.as_ref() == b"s").unwrap();
        assert_eq!(
            s.value,
            sluice_rdb::RdbValue::String(Bytes::from_static(b"before"))
        );
        let z = entries.iter().find(|e| e.key.as_ref() == b"z").unwrap();
        assert_eq!((z.db, z.expire_at_ms), (2, Some(4_000_000_000_000)));
    }
}
