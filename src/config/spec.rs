//! The directives sluice implements: their kind, default and whether CONFIG SET may change
//! them.

use super::units::{parse_bool, parse_memory};
use super::{ConfigError, OutputLimit};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    /// Unsigned integer with an inclusive range.
    Int(u64, u64),
    /// A byte size with optional unit, shown as a plain byte count.
    Memory,
    /// Any text (one argument, may be empty).
    Text,
    Enum(&'static [&'static str]),
    /// Several words kept as one space-separated value (`bind`, `save`, ...).
    Words,
}

pub struct Directive {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
}

const fn d(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Directive {
    Directive {
        name,
        kind,
        default,
        mutable,
    }
}

const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const COMPRESSION: &[&str] = &["auto", "zstd", "no"];
const IO_ENGINES: &[&str] = &["auto", "io_uring", "epoll"];
const LOG_FSYNC: &[&str] = &["always", "everysec", "no"];
const DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];

pub const DIRECTIVES: &[Directive] = &[
    d("port", Kind::Int(0, 65535), "6379", false),
    d("bind", Kind::Words, "127.0.0.1", false),
    d("protected-mode", Kind::Bool, "yes", true),
    d("dir", Kind::Text, ".", true),
    d("dbfilename", Kind::Text, "dump.rdb", true),
    d("requirepass", Kind::Text, "", true),
    d("maxclients", Kind::Int(1, u32::MAX as u64), "10000", true),
    d("databases", Kind::Int(1, 1_000_000), "16", false),
    d("save", Kind::Words, "3600 1 300 100 60 10000", true),
    // Writes (and PING) are refused with -MISCONF while the last save failed.
    d("stop-writes-on-bgsave-error", Kind::Bool, "yes", true),
    d("replicaof", Kind::Words, "", false),
    d("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    d("logfile", Kind::Text, "", false),
    d("pidfile", Kind::Text, "", false),
    d("daemonize", Kind::Bool, "no", false),
    d("proto-max-bulk-len", Kind::Memory, "536870912", true),
    d(
        "client-query-buffer-limit",
        Kind::Memory,
        "1073741824",
        true,
    ),
    d(
        "client-output-buffer-limit",
        Kind::Words,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
    d("timeout", Kind::Int(0, i32::MAX as u64), "0", true),
    d("tcp-keepalive", Kind::Int(0, i32::MAX as u64), "300", true),
    d("tcp-backlog", Kind::Int(0, i32::MAX as u64), "511", false),
    d("hz", Kind::Int(0, i32::MAX as u64), "10", true),
    // Threads serving client connections (tokio workers); Redis's name for its I/O threads.
    d("io-threads", Kind::Int(1, 128), "1", false),
    d("appendonly", Kind::Bool, "no", true),
    // On disk in sluice (the durable log), so it can be far larger than Redis's 1mb.
    d("repl-backlog-size", Kind::Memory, "1073741824", true),
    d("repl-log-fsync", Kind::Enum(LOG_FSYNC), "everysec", true),
    d("repl-ship-durable", Kind::Bool, "no", true),
    // The part of the log kept in memory; the rest is read from disk.
    d("repl-log-hot-size", Kind::Memory, "67108864", true),
    // Log written since the last snapshot that makes sluice take one (0: never).
    d("repl-log-snapshot-size", Kind::Memory, "134217728", true),
    // Where the durable log lives, relative to `dir`; empty keeps the log in memory only.
    d("repl-log-dir", Kind::Text, "replog", false),
    // What sends full-sync payloads: io_uring where the kernel allows it, else epoll.
    d("repl-io-engine", Kind::Enum(IO_ENGINES), "auto", false),
    // zstd-compressed full syncs for replicas that announce `capa zstd` (sluice replicas).
    d("repl-compression", Kind::Enum(COMPRESSION), "auto", true),
    // 0: chosen by sluice; 1–19 fixes the zstd level.
    d("repl-compression-level", Kind::Int(0, 19), "0", true),
    d("repl-diskless-sync", Kind::Bool, "yes", true),
    d(
        "repl-diskless-sync-delay",
        Kind::Int(0, i32::MAX as u64),
        "5",
        true,
    ),
    d(
        "repl-diskless-sync-max-replicas",
        Kind::Int(0, i32::MAX as u64),
        "0",
        true,
    ),
    d(
        "repl-diskless-load",
        Kind::Enum(DISKLESS_LOAD),
        "disabled",
        true,
    ),
    d("repl-timeout", Kind::Int(1, i32::MAX as u64), "60", true),
    d(
        "repl-ping-replica-period",
        Kind::Int(1, i32::MAX as u64),
        "10",
        true,
    ),
    d("masterauth", Kind::Text, "", true),
    d("masteruser", Kind::Text, "", true),
    // What a replica tells its master (and Sentinel) about itself.
    d("replica-announce-ip", Kind::Text, "", true),
    d("replica-announce-port", Kind::Int(0, 65535), "0", true),
    d("replica-announced", Kind::Bool, "yes", true),
    d(
        "replica-priority",
        Kind::Int(0, i32::MAX as u64),
        "100",
        true,
    ),
    // How long SHUTDOWN (and SIGTERM) waits for lagging replicas.
    d(
        "shutdown-timeout",
        Kind::Int(0, i32::MAX as u64),
        "10",
        true,
    ),
    d("replica-read-only", Kind::Bool, "yes", true),
    d("replica-serve-stale-data", Kind::Bool, "yes", true),
    d(
        "min-replicas-to-write",
        Kind::Int(0, i32::MAX as u64),
        "0",
        true,
    ),
    d(
        "min-replicas-max-lag",
        Kind::Int(0, i32::MAX as u64),
        "10",
        true,
    ),
];

/// Old names Redis still accepts, and the directive each stands for.
pub const ALIASES: &[(&str, &str)] = &[
    ("slaveof", "replicaof"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    (
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
    ),
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
];

/// Directives valid only in a config file, which CONFIG GET does not list.
pub const FILE_ONLY_DIRECTIVES: &[&str] = &["rename-command", "user", "loadmodule", "sentinel"];

pub fn canonical_name(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, target)| target)
}

/// Values that would mislead if accepted, refused with the reason.
pub fn refusal(name: &str, value: &str) -> Option<String> {
    match (name, value) {
        ("appendonly", "yes") => Some(
            "appendonly yes is not supported: sluice keeps its durable replication log in sled \
             instead of an AOF; remove the directive or set it to no"
                .into(),
        ),
        ("cluster-enabled", "yes") => Some("cluster mode is not supported by sluice".into()),
        _ => None,
    }
}

impl Kind {
    /// Validates the words of a directive and returns its canonical text form.
    pub fn normalize(&self, name: &str, words: &[String]) -> Result<String, ConfigError> {
        let bad = |reason: &str| ConfigError::BadValue {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let single = || match words {
            [one] => Ok(one.as_str()),
            _ => Err(ConfigError::UnknownDirective(name.to_string())),
        };
        match self {
            Kind::Bool => match parse_bool(single()?) {
                Some(true) => Ok("yes".into()),
                Some(false) => Ok("no".into()),
                None => Err(bad("argument must be 'yes' or 'no'")),
            },
            Kind::Int(min, max) => {
                let v: i64 = single()?
                    .parse()
                    .map_err(|_| bad("argument couldn't be parsed into an integer"))?;
                if v < *min as i64 || v > *max as i64 {
                    return Err(bad(&format!(
                        "argument must be between {min} and {max} inclusive"
                    )));
                }
                Ok(v.to_string())
            }
            Kind::Memory => {
                let v = parse_memory(single()?)
                    .ok_or_else(|| bad("argument must be a memory value"))?;
                // Redis's lower bounds for the memory directives that have one.
                let min: u64 = match name {
                    "proto-max-bulk-len" | "client-query-buffer-limit" => 1024 * 1024,
                    "repl-backlog-size" => 1,
                    _ => 0,
                };
                if v < min || v > i64::MAX as u64 {
                    return Err(bad(&format!(
                        "argument must be between {min} and {} inclusive",
                        i64::MAX
                    )));
                }
                Ok(v.to_string())
            }
            Kind::Text => Ok(single()?.to_string()),
            Kind::Enum(options) => {
                let v = single()?.to_ascii_lowercase();
                if options.contains(&v.as_str()) {
                    Ok(v)
                } else {
                    Err(bad("argument(s) must be one of the following: "
                        .to_string()
                        .as_str())
                    .with_options(options))
                }
            }
            Kind::Words => {
                let joined: Vec<&str> = words.iter().flat_map(|w| w.split_whitespace()).collect();
                let joined = joined.join(" ");
                match name {
                    "save" => {
                        parse_save(&joined).map_err(|r| bad(&r))?;
                    }
                    "client-output-buffer-limit" => {
                        parse_output_limits(&joined).map_err(|r| bad(&r))?;
                    }
                    "replicaof" if joined.eq_ignore_ascii_case("no one") => {
                        return Ok(String::new());
                    }
                    "replicaof" => {
                        let parts: Vec<&str> = joined.split(' ').collect();
                        if parts.len() != 2 || parts[1].parse::<u16>().is_err() {
                            return Err(ConfigError::UnknownDirective(name.to_string()));
                        }
                    }
                    _ => {}
                }
                Ok(joined)
            }
        }
    }
}

trait WithOptions {
    fn with_options(self, options: &[&str]) -> ConfigError;
}

impl WithOptions for ConfigError {
    fn with_options(self, options: &[&str]) -> ConfigError {
        match self {
            ConfigError::BadValue { name, reason } => ConfigError::BadValue {
                name,
                reason: format!("{reason}{}", options.join(", ")),
            },
            other => other,
        }
    }
}

/// `save` pairs: "" disables snapshots.
pub fn parse_save(text: &str) -> Result<Vec<(u64, u64)>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    words
        .chunks(2)
        .map(|pair| match (pair[0].parse(), pair[1].parse()) {
            (Ok(s), Ok(c)) => Ok((s, c)),
            _ => Err("Invalid save parameters".to_string()),
        })
        .collect()
}

/// Merges `text` (one or more `class hard soft seconds` groups) into the full setting.
pub fn parse_output_limits(text: &str) -> Result<[OutputLimit; 3], String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits = [
        OutputLimit::default(),
        OutputLimit {
            hard_bytes: 256 << 20,
            soft_bytes: 64 << 20,
            soft_seconds: 60,
        },
        OutputLimit {
            hard_bytes: 32 << 20,
            soft_bytes: 8 << 20,
            soft_seconds: 60,
        },
    ];
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
        };
        let hard = parse_memory(group[1]);
        let soft = parse_memory(group[2]);
        let seconds = group[3].parse::<u64>().ok();
        match (hard, soft, seconds) {
            (Some(h), Some(s), Some(sec)) => {
                limits[class] = OutputLimit {
                    hard_bytes: h,
                    soft_bytes: s,
                    soft_seconds: sec,
                }
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                );
            }
        }
    }
    Ok(limits)
}

/// Canonical text of the three limits, as CONFIG GET prints it.
pub fn format_output_limits(limits: &[OutputLimit; 3]) -> String {
    let names = ["normal", "slave", "pubsub"];
    names
        .iter()
        .zip(limits)
        .map(|(n, l)| format!("{n} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}
