//! Redis 7.0's subcommands of the container commands sluice serves (CLIENT, CONFIG, …):
//! their full names, arities, flags and first key, as Redis's command table declares them.
//! Dispatch checks a subcommand's existence and arity here before the handler runs, and
//! per-command statistics and latency histograms are kept under these names
//! (`cmdstat_client|id`), as in Redis.

use super::flags::*;

#[derive(Debug)]
pub struct Subcommand {
    /// `container|name`, lower case.
    pub full_name: &'static str,
    /// Redis arity, counting the container's name: N exactly, -N at least N.
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
}

impl Subcommand {
    /// The part after the `|`.
    pub fn name(&self) -> &'static str {
        self.full_name
            .split_once('|')
            .map_or(self.full_name, |(_, sub)| sub)
    }

    pub fn container(&self) -> &'static str {
        self.full_name
            .split_once('|')
            .map_or(self.full_name, |(container, _)| container)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

macro_rules! sub {
    ($full:literal, $arity:expr, $flags:expr, ($first:expr, $last:expr, $step:expr)) => {
        Subcommand {
            full_name: $full,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            key_step: $step,
        }
    };
}

/// Sorted by full name, so each container's subcommands are contiguous.
pub const SUBCOMMANDS: &[Subcommand] = &[
    sub!("client|caching", 3, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!("client|getname", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!("client|getredir", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!("client|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("client|id", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!("client|info", 2, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!(
        "client|kill",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "client|list",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "client|no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "client|pause",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("client|reply", 3, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!("client|setname", 3, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!("client|tracking", -3, NOSCRIPT | LOADING | STALE, (0, 0, 0)),
    sub!(
        "client|trackinginfo",
        2,
        NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "client|unblock",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "client|unpause",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("cluster|addslots", -3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|addslotsrange", -4, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|bumpepoch", 2, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|count-failure-reports", 3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|countkeysinslot", 3, STALE, (0, 0, 0)),
    sub!("cluster|delslots", -3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|delslotsrange", -4, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|failover", -2, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|flushslots", 2, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|forget", 3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|getkeysinslot", 4, STALE, (0, 0, 0)),
    sub!("cluster|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("cluster|info", 2, STALE, (0, 0, 0)),
    sub!("cluster|keyslot", 3, STALE, (0, 0, 0)),
    sub!("cluster|links", 2, STALE, (0, 0, 0)),
    sub!("cluster|meet", -4, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|myid", 2, STALE, (0, 0, 0)),
    sub!("cluster|nodes", 2, STALE, (0, 0, 0)),
    sub!("cluster|replicas", 3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|replicate", 3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|reset", -2, ADMIN | STALE | NOSCRIPT, (0, 0, 0)),
    sub!("cluster|saveconfig", 2, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|set-config-epoch", 3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|setslot", -4, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|shards", 2, STALE, (0, 0, 0)),
    sub!("cluster|slaves", 3, ADMIN | STALE, (0, 0, 0)),
    sub!("cluster|slots", 2, STALE, (0, 0, 0)),
    sub!("command|count", 2, LOADING | STALE, (0, 0, 0)),
    sub!("command|docs", -2, LOADING | STALE, (0, 0, 0)),
    sub!("command|getkeys", -4, LOADING | STALE, (0, 0, 0)),
    sub!("command|getkeysandflags", -4, LOADING | STALE, (0, 0, 0)),
    sub!("command|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("command|info", -2, LOADING | STALE, (0, 0, 0)),
    sub!("command|list", -2, LOADING | STALE, (0, 0, 0)),
    sub!(
        "config|get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("config|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!(
        "config|resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "config|rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "config|set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("function|delete", 3, WRITE | NOSCRIPT, (0, 0, 0)),
    sub!("function|dump", 2, NOSCRIPT, (0, 0, 0)),
    sub!("function|flush", -2, WRITE | NOSCRIPT, (0, 0, 0)),
    sub!("function|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("function|kill", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0)),
    sub!("function|list", -2, NOSCRIPT, (0, 0, 0)),
    sub!("function|load", -3, WRITE | DENYOOM | NOSCRIPT, (0, 0, 0)),
    sub!(
        "function|restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT,
        (0, 0, 0)
    ),
    sub!("function|stats", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0)),
    sub!(
        "latency|doctor",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "latency|graph",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("latency|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!(
        "latency|histogram",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "latency|history",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "latency|latest",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "latency|reset",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("memory|doctor", 2, 0, (0, 0, 0)),
    sub!("memory|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("memory|malloc-stats", 2, 0, (0, 0, 0)),
    sub!("memory|purge", 2, 0, (0, 0, 0)),
    sub!("memory|stats", 2, 0, (0, 0, 0)),
    sub!("memory|usage", -3, READONLY, (2, 2, 1)),
    sub!("object|encoding", 3, READONLY, (2, 2, 1)),
    sub!("object|freq", 3, READONLY, (2, 2, 1)),
    sub!("object|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("object|idletime", 3, READONLY, (2, 2, 1)),
    sub!("object|refcount", 3, READONLY, (2, 2, 1)),
    sub!("pubsub|channels", -2, PUBSUB | LOADING | STALE, (0, 0, 0)),
    sub!("pubsub|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("pubsub|numpat", 2, PUBSUB | LOADING | STALE, (0, 0, 0)),
    sub!("pubsub|numsub", -2, PUBSUB | LOADING | STALE, (0, 0, 0)),
    sub!(
        "pubsub|shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!(
        "pubsub|shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        (0, 0, 0)
    ),
    sub!("script|debug", 3, NOSCRIPT, (0, 0, 0)),
    sub!("script|exists", -3, NOSCRIPT, (0, 0, 0)),
    sub!("script|flush", -2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0)),
    sub!("script|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("script|kill", 2, NOSCRIPT | ALLOW_BUSY, (0, 0, 0)),
    sub!("script|load", 3, NOSCRIPT | STALE, (0, 0, 0)),
    sub!("slowlog|get", -2, ADMIN | LOADING | STALE, (0, 0, 0)),
    sub!("slowlog|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("slowlog|len", 2, ADMIN | LOADING | STALE, (0, 0, 0)),
    sub!("slowlog|reset", 2, ADMIN | LOADING | STALE, (0, 0, 0)),
    sub!("xgroup|create", -5, WRITE | DENYOOM, (2, 2, 1)),
    sub!("xgroup|createconsumer", 5, WRITE | DENYOOM, (2, 2, 1)),
    sub!("xgroup|delconsumer", 5, WRITE, (2, 2, 1)),
    sub!("xgroup|destroy", 4, WRITE, (2, 2, 1)),
    sub!("xgroup|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("xgroup|setid", -5, WRITE, (2, 2, 1)),
    sub!("xinfo|consumers", 4, READONLY, (2, 2, 1)),
    sub!("xinfo|groups", 3, READONLY, (2, 2, 1)),
    sub!("xinfo|help", 2, LOADING | STALE, (0, 0, 0)),
    sub!("xinfo|stream", -3, READONLY, (2, 2, 1)),
];

/// Whether `container` (lower case) is one whose subcommands this table describes.
pub fn is_container(container: &str) -> bool {
    !of(container).is_empty()
}

/// The subcommands of `container` (lower case).
pub fn of(container: &str) -> &'static [Subcommand] {
    let start = SUBCOMMANDS.partition_point(|s| s.container() < container);
    let len = SUBCOMMANDS[start..]
        .iter()
        .take_while(|s| s.container() == container)
        .count();
    &SUBCOMMANDS[start..start + len]
}

/// `container sub`, case-insensitively for `sub`.
pub fn lookup(container: &str, sub: &[u8]) -> Option<&'static Subcommand> {
    of(container)
        .iter()
        .find(|s| s.name().as_bytes().eq_ignore_ascii_case(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_lookups_ignore_case() {
        assert!(
            SUBCOMMANDS
                .windows(2)
                .all(|w| w[0].full_name < w[1].full_name)
        );
        assert_eq!(
            lookup("client", b"ID").map(|s| s.full_name),
            Some("client|id")
        );
        assert!(lookup("client", b"nope").is_none());
        assert!(is_container("slowlog"));
        assert!(!is_container("get"));
        assert!(
            of("xinfo")
                .iter()
                .all(|s| s.name() == "help" || s.first_key == 2)
        );
    }
}
