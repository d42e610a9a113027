//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key …] (Redis 7.0's replies, errors and effects).
//!
//! It runs in three steps so that no socket wait happens under the server lock:
//! 1. under the lock, the keys are serialized (DUMP's format) into RESTORE commands, and
//!    held: writes to them wait (`dispatch::must_wait`) until step 3;
//! 2. the connection runs [`transfer::transfer`] outside the lock;
//! 3. under the lock again, [`finish`] deletes the keys the target restored (unless COPY)
//!    and propagates that as DEL, as Redis does.
//!
//! Inside EXEC the transfer runs at once, under the lock, as Redis blocks for it.

pub mod transfer;

use bytes::{Bytes, BytesMut};
use std::time::Duration;

use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::log::repl_log::encode_command;
use crate::resp::Reply;
use crate::server::migrate::{MigrateJob, TransferOutcome};
use crate::snapshot::dump::dump as dump_payload;
use crate::util::num::parse_i64;

/// Redis uses this when the timeout given is not positive.
const DEFAULT_TIMEOUT_MS: u64 = 1000;

pub fn migrate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut copy = false;
    let mut replace = false;
    let mut auth = None;
    let mut first_key = 3;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let option = &argv[j];
        if option.eq_ignore_ascii_case(b"COPY") {
            copy = true;
        } else if option.eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if option.eq_ignore_ascii_case(b"AUTH") {
            if more < 1 {
                return Reply::error(errors::SYNTAX);
            }
            auth = Some((None, argv[j + 1].clone()));
            j += 1;
        } else if option.eq_ignore_ascii_case(b"AUTH2") {
            if more < 2 {
                return Reply::error(errors::SYNTAX);
            }
            auth = Some((Some(argv[j + 1].clone()), argv[j + 2].clone()));
            j += 2;
        } else if option.eq_ignore_ascii_case(b"KEYS") {
            if !argv[3].is_empty() {
                return Reply::error(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                );
            }
            first_key = j + 1;
            break;
        } else {
            return Reply::error(errors::SYNTAX);
        }
        j += 1;
    }
    let (Some(timeout_ms), Some(target_db)) = (parse_i64(&argv[5]), parse_i64(&argv[4])) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let timeout_ms = u64::try_from(timeout_ms)
        .ok()
        .filter(|&ms| ms > 0)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let Some(port) = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
    else {
        // Redis's atoi would make any such port fail to connect.
        return Reply::error(transfer::CONNECT_ERROR);
    };
    let compress = ctx
        .state
        .config
        .get("rdbcompression")
        .is_none_or(|v| v == "yes");
    let mut keys = Vec::new();
    let mut restores = BytesMut::new();
    let now_ms = ctx.now_ms;
    for key in &argv[first_key.min(argv.len())..] {
        // A key that is missing (or expired) is skipped; if all are, the answer is NOKEY.
        let Some(entry) = ctx.lookup_read(key) else {
            continue;
        };
        let ttl_ms = entry
            .expire_at_ms
            .map_or(0, |at| at.saturating_sub(now_ms).max(1));
        let payload = match dump_payload(&entry.value, compress) {
            Ok(payload) => payload,
            Err(e) => return Reply::error(format!("ERR MIGRATE failed to serialize a key: {e}")),
        };
        let ttl = ttl_ms.to_string();
        let mut restore: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), &payload];
        if replace {
            restore.push(b"REPLACE");
        }
        encode_command(&mut restores, &restore);
        keys.push(key.clone());
    }
    if keys.is_empty() {
        return Reply::simple("NOKEY");
    }
    let job = MigrateJob {
        argv: argv.to_vec(),
        host: String::from_utf8_lossy(&argv[1]).into_owned(),
        port,
        target_db,
        timeout: Duration::from_millis(timeout_ms),
        copy,
        auth,
        source_db: ctx.session.db,
        keys,
        restores: restores.to_vec(),
        master_epoch: ctx.state.repl.master_epoch,
    };
    if ctx.nested {
        let outcome = transfer::transfer(&ctx.server.migrate_sockets, &job);
        return finish(ctx, &job, outcome);
    }
    ctx.state.pauses.hold_keys(job.source_db, &job.keys);
    ctx.session.pending_migrate = Some(Box::new(job));
    // Not sent: the connection answers once the transfer is done (`finish`).
    Reply::Nil
}

/// Step 3: the keys the target restored leave this server (unless COPY), propagated as one
/// DEL of them; the reply is OK or the first error.
pub fn finish(ctx: &mut Ctx<'_>, job: &MigrateJob, outcome: TransferOutcome) -> Reply {
    // A role change meanwhile replaced the dataset the keys were read from.
    let same_dataset = job.master_epoch == ctx.state.repl.master_epoch;
    if !job.copy && same_dataset {
        let mut del = vec![Bytes::from_static(b"DEL")];
        for &index in &outcome.restored {
            let key = &job.keys[index];
            if ctx.delete(key) {
                del.push(key.clone());
            }
        }
        if del.len() > 1 {
            ctx.rewrite(del);
        }
    }
    match outcome.error {
        Some(text) => Reply::error(text),
        None => Reply::ok(),
    }
}
