//! MEMORY USAGE | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP.
//!
//! USAGE estimates a key's bytes from the value's heap estimate plus what Redis counts for
//! its own key entry (the key's bytes, a table entry and an object header); it is not an
//! allocator measurement. Like Redis, it looks the key up without expiring it.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

/// A key's table entry and value header as Redis counts them (`dictEntry`, `robj`, sds
/// header).
const KEY_OVERHEAD_BYTES: usize = 24 + 16 + 3;

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

pub fn memory(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    let (name, arity_ok) = match sub.as_slice() {
        b"usage" => ("usage", argv.len() >= 3),
        b"stats" => ("stats", argv.len() == 2),
        b"doctor" => ("doctor", argv.len() == 2),
        b"malloc-stats" => ("malloc-stats", argv.len() == 2),
        b"purge" => ("purge", argv.len() == 2),
        b"help" => ("help", argv.len() == 2),
        _ => return Reply::error(errors::unknown_subcommand(&argv[1], "memory")),
    };
    if !arity_ok {
        return Reply::error(errors::wrong_arity(&format!("memory|{name}")));
    }
    match name {
        "usage" => usage(ctx, argv),
        "stats" => stats(ctx),
        "doctor" => Reply::Bulk(Bytes::from_static(
            b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
        )),
        "malloc-stats" => Reply::Bulk(Bytes::from_static(
            b"Stats not supported for the current allocator",
        )),
        "purge" => Reply::ok(),
        _ => Reply::Array(HELP.iter().map(|line| Reply::simple(*line)).collect()),
    }
}

fn usage(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut j = 3;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"SAMPLES") && j + 1 < argv.len() {
            match parse_i64(&argv[j + 1]) {
                Some(n) if n >= 0 => {}
                Some(_) => return Reply::error(errors::SYNTAX),
                None => return Reply::error(errors::NOT_INTEGER),
            }
            j += 2;
        } else {
            return Reply::error(errors::SYNTAX);
        }
    }
    let key = &argv[2];
    match ctx.db().get(key) {
        Some(entry) => Reply::integer(entry.value.approx_bytes() + key.len() + KEY_OVERHEAD_BYTES),
        None => Reply::Nil,
    }
}

/// A subset of Redis's fields, under its names: what the allocator and the keyspace say.
fn stats(ctx: &mut Ctx<'_>) -> Reply {
    let allocated = crate::alloc::allocated_bytes();
    let peak = crate::alloc::peak_bytes().max(allocated);
    let keys: usize = ctx.state.dbs.iter().map(|db| db.len()).sum();
    let field = |name: &'static str, value: Reply| (Reply::bulk_str(name), value);
    let mut fields = vec![
        field("peak.allocated", Reply::integer(peak)),
        field("total.allocated", Reply::integer(allocated)),
        field("keys.count", Reply::integer(keys)),
        field(
            "keys.bytes-per-key",
            Reply::integer(allocated.checked_div(keys as u64).unwrap_or(0)),
        ),
    ];
    for (index, db) in ctx.state.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        fields.push((
            Reply::bulk_str(&format!("db.{index}")),
            Reply::Map(vec![
                field("keys", Reply::integer(db.len())),
                field("expires", Reply::integer(db.volatile_len())),
            ]),
        ));
    }
    Reply::Map(fields)
}

#[cfg(test)]
mod tests {
    use crate::cmd::keys::test_support::Harness;
    use crate::resp::Reply;

    #[test]
    fn usage_counts_keys_and_checks_its_options() {
        let mut h = Harness::new();
        assert_eq!(h.run("MEMORY USAGE nokey"), Reply::Nil);
        h.run("SET k hello");
        let Reply::Integer(small) = h.run("MEMORY USAGE k") else {
            panic!("an integer");
        };
        h.run(&format!("SET big {}", "x".repeat(10_000)));
        let Reply::Integer(big) = h.run("MEMORY USAGE big SAMPLES 0") else {
            panic!("an integer");
        };
        assert!(small > 0 && big > 10_000 && big < 42_000, "{small} {big}");
        assert_eq!(
            h.run("MEMORY USAGE k SAMPLES -1"),
            Reply::error("ERR syntax error")
        );
        assert_eq!(
            h.run("MEMORY USAGE k FOO"),
            Reply::error("ERR syntax error")
        );
        assert_eq!(
            h.run("MEMORY USAGE"),
            Reply::error("ERR wrong number of arguments for 'memory|usage' command")
        );
        assert_eq!(
            h.run("MEMORY FOO"),
            Reply::error("ERR unknown subcommand 'FOO'. Try MEMORY HELP.")
        );
        assert_eq!(h.run("MEMORY PURGE"), Reply::ok());
    }
}
