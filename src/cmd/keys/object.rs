//! OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP.
//!
//! sluice stores values in one representation per type, so the encoding reported is the
//! one Redis would pick for the value as it is now (Redis never converts back to a compact
//! encoding after deletions, and marks strings built by APPEND/SETRANGE as "raw").

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::Value;
use crate::util::num::parse_i64;

/// Redis keeps integers below this as shared objects (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: i64 = 10_000;
/// The reference count Redis reports for shared objects (OBJ_SHARED_REFCOUNT).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Longest string Redis stores as "embstr".
const EMBSTR_MAX_BYTES: usize = 44;
/// The LFU counter Redis gives a new key (LFU_INIT_VAL); access counting is not tracked.
const LFU_INITIAL_COUNTER: i64 = 5;

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

pub fn object(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    let name = match sub.as_slice() {
        b"help" => "help",
        b"encoding" => "encoding",
        b"refcount" => "refcount",
        b"idletime" => "idletime",
        b"freq" => "freq",
        _ => return Reply::error(errors::unknown_subcommand(&argv[1], "object")),
    };
    let expected_args = if name == "help" { 2 } else { 3 };
    if argv.len() != expected_args {
        return Reply::error(errors::wrong_arity(&format!("object|{name}")));
    }
    if name == "help" {
        return Reply::Array(HELP.iter().map(|line| Reply::simple(*line)).collect());
    }
    let lfu = ctx
        .state
        .config
        .get("maxmemory-policy")
        .is_some_and(|p| p.contains("lfu"));
    let shared_ints = shared_integers_enabled(ctx);
    let limits = Limits::from_config(ctx);
    let Some(entry) = ctx.lookup_read(&argv[2]) else {
        return Reply::Nil;
    };
    match name {
        "encoding" => Reply::bulk_str(encoding(&entry.value, &limits)),
        "refcount" => Reply::Integer(refcount(&entry.value, shared_ints)),
        "idletime" if lfu => Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note \
                 that when switching between policies at runtime LRU and LFU data will take \
                 some time to adjust.",
        ),
        "idletime" => Reply::Integer(0),
        _ if !lfu => Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
        ),
        _ => Reply::Integer(LFU_INITIAL_COUNTER),
    }
}

/// Redis stops sharing small integers when maxmemory evicts by LRU or LFU (each key then
/// needs its own access clock).
fn shared_integers_enabled(ctx: &Ctx<'_>) -> bool {
    let config = &ctx.state.config;
    let maxmemory_set = config.get("maxmemory").is_some_and(|m| m != "0");
    let per_key_clock = config
        .get("maxmemory-policy")
        .is_some_and(|p| p.contains("lru") || p.contains("lfu"));
    !(maxmemory_set && per_key_clock)
}

fn int_encodable(text: &[u8]) -> Option<i64> {
    if text.len() > 20 {
        return None;
    }
    parse_i64(text)
}

fn refcount(value: &Value, shared_ints: bool) -> i64 {
    match value {
        Value::Str(s) if shared_ints => match int_encodable(s) {
            Some(v) if (0..SHARED_INTEGERS).contains(&v) => SHARED_REFCOUNT,
            _ => 1,
        },
        _ => 1,
    }
}

/// Size thresholds of the compact encodings, from the configuration.
struct Limits {
    hash_entries: usize,
    hash_value_bytes: usize,
    set_intset_entries: usize,
}

impl Limits {
    fn from_config(ctx: &Ctx<'_>) -> Limits {
        let get = |name: &str, default: usize| {
            ctx.state
                .config
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Limits {
            hash_entries: get("hash-max-listpack-entries", 512),
            hash_value_bytes: get("hash-max-listpack-value", 64),
            set_intset_entries: get("set-max-intset-entries", 512),
        }
    }
}

fn encoding(value: &Value, limits: &Limits) -> &'static str {
    match value {
        Value::Str(s) => {
            if int_encodable(s).is_some() {
                "int"
            } else if s.len() <= EMBSTR_MAX_BYTES {
                "embstr"
            } else {
                "raw"
            }
        }
        // Redis 7.0 always stores lists as a quicklist (of listpack nodes).
        Value::List(_) => "quicklist",
        Value::Hash(h) => {
            let small = h.len() <= limits.hash_entries
                && h.iter().all(|(k, v)| {
                    k.len() <= limits.hash_value_bytes && v.len() <= limits.hash_value_bytes
                });
            match (small, h.has_field_expiry()) {
                // Redis 7.4 names a small hash with field times by its own encoding.
                (true, true) => "listpackex",
                (true, false) => "listpack",
                (false, _) => "hashtable",
            }
        }
        Value::Set(s) => {
            let ints = s.len() <= limits.set_intset_entries
                && s.iter().all(|m| int_encodable(m).is_some());
            if ints { "intset" } else { "hashtable" }
        }
        Value::ZSet(z) => {
            if z.is_compact() {
                "listpack"
            } else {
                "skiplist"
            }
        }
        Value::Stream(_) => "stream",
    }
}
