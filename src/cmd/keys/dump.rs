//! DUMP and RESTORE (Redis 7.0's replies, errors and replication effects). The payload
//! format is `snapshot::dump`'s.
//!
//! IDLETIME and FREQ are checked as Redis checks them; keys carry no access clock here
//! (OBJECT IDLETIME answers 0), so they set nothing.

use crate::config::keyspace_events as events;
use bytes::Bytes;

use super::rename::signal_if_poppable;
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::resp::Reply;
use crate::snapshot::dump::{dump as dump_payload, restore as restore_payload};
use crate::store::Entry;
use crate::store::zset::CompactLimits;
use crate::util::num::parse_i64;

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";

pub fn dump(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let compress = ctx
        .state
        .config
        .get("rdbcompression")
        .is_none_or(|v| v == "yes");
    let Some(entry) = ctx.lookup_read(&argv[1]) else {
        return Reply::Nil;
    };
    match dump_payload(&entry.value, compress) {
        Ok(payload) => Reply::Bulk(payload),
        // Values in the keyspace always encode; a failure is a defect to report, not a
        // reason to drop the connection.
        Err(e) => Reply::error(format!("ERR DUMP failed: {e}")),
    }
}

pub fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    let mut replace = false;
    let mut absttl = false;
    let mut idle_given = false;
    let mut freq_given = false;
    let mut j = 4;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        let opt = &argv[j];
        if opt.eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"ABSTTL") {
            absttl = true;
        } else if opt.eq_ignore_ascii_case(b"IDLETIME") && more >= 1 && !freq_given {
            let Some(idle) = parse_i64(&argv[j + 1]) else {
                return Reply::error(errors::NOT_INTEGER);
            };
            if idle < 0 {
                return Reply::error("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle_given = true;
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"FREQ") && more >= 1 && !idle_given {
            let Some(freq) = parse_i64(&argv[j + 1]) else {
                return Reply::error(errors::NOT_INTEGER);
            };
            if !(0..=255).contains(&freq) {
                return Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq_given = true;
            j += 1;
        } else {
            return Reply::error(errors::SYNTAX);
        }
        j += 1;
    }
    if !replace && ctx.lookup_write(key).is_some() {
        return Reply::error(BUSYKEY);
    }
    let Some(ttl) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    if ttl < 0 {
        return Reply::error("ERR Invalid TTL value, must be >= 0");
    }
    let limits = &ctx.state.config.encoding_limits;
    let zset_limits = CompactLimits {
        max_entries: limits.zset_max_listpack_entries,
        max_value_bytes: limits.zset_max_listpack_value,
    };
    let value = match restore_payload(&argv[3], zset_limits) {
        Ok(value) => value,
        Err(e) => return Reply::error(format!("ERR {e}")),
    };
    let deleted = replace && ctx.db().remove(key).is_some();
    let now = i64::try_from(ctx.now_ms).unwrap_or(i64::MAX);
    let expire_at = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    // A time already past: the key is not created (a replica keeps it, and waits for its
    // master's DEL, as it keeps past expiries everywhere).
    if let Some(at) = expire_at
        && at <= now
        && ctx.state.deletes_expired()
    {
        if deleted {
            ctx.modified(key);
            ctx.notify(events::GENERIC, "del", key);
            ctx.rewrite(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        return Reply::ok();
    }
    let entry = Entry {
        value,
        expire_at_ms: expire_at.map(|at| u64::try_from(at).unwrap_or(0)),
    };
    let db = ctx.db_index();
    signal_if_poppable(ctx, db, key, &entry);
    ctx.insert_entry(key, entry);
    ctx.modified(key);
    ctx.notify(events::GENERIC, "restore", key);
    if let Some(at) = expire_at
        && !absttl
    {
        // Replicas get the absolute time, so the key expires when it does here.
        let mut effect = argv.to_vec();
        effect[2] = Bytes::from(at.to_string());
        effect.push(Bytes::from_static(b"ABSTTL"));
        ctx.rewrite(effect);
    }
    Reply::ok()
}
