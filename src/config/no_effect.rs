//! The Redis directives sluice accepts and shows (CONFIG GET, CONFIG REWRITE) but that change
//! nothing here, each with the reason. Start-up warns about those set in the config file;
//! CONFIG SET logs the reason the first time one is set. README.md lists them from here.

/// (directive, why setting it changes nothing in sluice).
pub const NO_EFFECT: &[(&str, &str)] = &[
    // Redis's own machinery, which sluice does not have.
    (
        "activedefrag",
        "no active defragmentation: mimalloc returns freed pages itself",
    ),
    ("active-defrag-cycle-max", "no active defragmentation"),
    ("active-defrag-cycle-min", "no active defragmentation"),
    ("active-defrag-ignore-bytes", "no active defragmentation"),
    ("active-defrag-max-scan-fields", "no active defragmentation"),
    ("active-defrag-threshold-lower", "no active defragmentation"),
    ("active-defrag-threshold-upper", "no active defragmentation"),
    (
        "activerehashing",
        "keys are spread over many small tables, each rehashed at once when it grows, a pause bounded by one table",
    ),
    (
        "active-expire-effort",
        "the active expiry cycle has a fixed budget of a quarter of each cron period",
    ),
    (
        "dynamic-hz",
        "the cron runs at `hz` whatever the number of clients",
    ),
    ("jemalloc-bg-thread", "the allocator is mimalloc"),
    (
        "lazyfree-lazy-eviction",
        "values are freed where they are dropped; there is no eviction yet",
    ),
    (
        "lazyfree-lazy-expire",
        "values are freed where they are dropped",
    ),
    (
        "lazyfree-lazy-server-del",
        "values are freed where they are dropped",
    ),
    (
        "lazyfree-lazy-user-del",
        "values are freed where they are dropped",
    ),
    (
        "lazyfree-lazy-user-flush",
        "values are freed where they are dropped",
    ),
    (
        "replica-lazy-flush",
        "values are freed where they are dropped",
    ),
    (
        "io-threads-do-reads",
        "every connection task parses its own input",
    ),
    ("list-compress-depth", "list nodes are not compressed"),
    (
        "disable-thp",
        "sluice does not change the process's transparent huge page setting",
    ),
    ("crash-log-enabled", "a panic is logged by the Rust runtime"),
    (
        "crash-memcheck-enabled",
        "a panic is logged by the Rust runtime",
    ),
    ("server_cpulist", "threads are not pinned to CPUs"),
    ("bio_cpulist", "threads are not pinned to CPUs"),
    ("aof_rewrite_cpulist", "threads are not pinned to CPUs"),
    ("bgsave_cpulist", "threads are not pinned to CPUs"),
    ("oom-score-adj", "sluice does not change its OOM score"),
    (
        "oom-score-adj-values",
        "sluice does not change its OOM score",
    ),
    ("proc-title-template", "the process title is not rewritten"),
    ("set-proc-title", "the process title is not rewritten"),
    (
        "rdb-save-incremental-fsync",
        "snapshots are fsynced once, when complete",
    ),
    (
        "rdb-del-sync-files",
        "a replica's snapshot is also the base its durable log replays onto",
    ),
    (
        "repl-backlog-ttl",
        "the replication log is kept on disk for PSYNC after restarts; its size is bounded by repl-backlog-size and the log limits",
    ),
    (
        "repl-disable-tcp-nodelay",
        "replication sockets always send at once",
    ),
    ("socket-mark-id", "sockets are not marked"),
    ("always-show-logo", "the start-up line is always the same"),
    (
        "supervised",
        "sluice runs in the foreground for any supervisor",
    ),
    ("syslog-enabled", "logs go to `logfile` or standard error"),
    ("syslog-facility", "logs go to `logfile` or standard error"),
    ("syslog-ident", "logs go to `logfile` or standard error"),
    (
        "ignore-warnings",
        "sluice prints no kernel-bug warnings to silence",
    ),
    (
        "shutdown-on-sigint",
        "SIGINT and SIGTERM always shut down as SHUTDOWN does, saving if save points are set",
    ),
    (
        "shutdown-on-sigterm",
        "SIGINT and SIGTERM always shut down as SHUTDOWN does, saving if save points are set",
    ),
    (
        "sanitize-dump-payload",
        "RESTORE and every loaded RDB are always checked in full",
    ),
    (
        "rdbchecksum",
        "RDB files and payloads always carry and check their CRC-64",
    ),
    (
        "rdbcompression",
        "DUMP and MIGRATE honour it; snapshots are written as sluice encodes them",
    ),
    (
        "propagation-error-behavior",
        "a replica logs a command from its master that fails and goes on, as Redis's default does; it stops only at a command it does not know",
    ),
    (
        "replica-ignore-disk-write-errors",
        "a replica whose disk fails stops acknowledging rather than diverge",
    ),
    // The append-only file: sluice's durable replication log takes its place
    // (`repl-log-fsync`); `appendonly yes` is refused.
    (
        "appendfsync",
        "no AOF: the durable log's fsync is `repl-log-fsync`",
    ),
    (
        "appenddirname",
        "no AOF: the durable log lives in `repl-log-dir`",
    ),
    (
        "appendfilename",
        "no AOF: the durable log lives in `repl-log-dir`",
    ),
    ("aof-disable-auto-gc", "no AOF"),
    (
        "aof-load-truncated",
        "no AOF: a damaged durable log is cut at the last whole record, with an error line",
    ),
    ("aof-rewrite-incremental-fsync", "no AOF"),
    ("aof-timestamp-enabled", "no AOF"),
    ("aof-use-rdb-preamble", "no AOF"),
    (
        "auto-aof-rewrite-min-size",
        "no AOF: the durable log is compacted by snapshots (`repl-log-snapshot-size`)",
    ),
    (
        "auto-aof-rewrite-percentage",
        "no AOF: the durable log is compacted by snapshots (`repl-log-snapshot-size`)",
    ),
    ("no-appendfsync-on-rewrite", "no AOF"),
    // Features not implemented yet: the directive is kept so that configurations load.
    (
        "maxmemory-policy",
        "not implemented yet: nothing is evicted; past maxmemory every policy refuses writes with -OOM, as noeviction does",
    ),
    (
        "maxmemory-samples",
        "not implemented yet: nothing is evicted",
    ),
    (
        "maxmemory-eviction-tenacity",
        "not implemented yet: nothing is evicted",
    ),
    (
        "maxmemory-clients",
        "not implemented yet: clients are not evicted for memory",
    ),
    (
        "lfu-log-factor",
        "not implemented yet: keys keep no LFU counter",
    ),
    (
        "lfu-decay-time",
        "not implemented yet: keys keep no LFU counter",
    ),
    (
        "replica-ignore-maxmemory",
        "not implemented yet: nothing is evicted",
    ),
    (
        "list-max-listpack-size",
        "lists are quicklists of nodes as in Redis 7.0, whose node size is internal",
    ),
    ("unixsocket", "not implemented yet: only TCP is served"),
    ("unixsocketperm", "not implemented yet: only TCP is served"),
    (
        "bind-source-addr",
        "not implemented yet: outgoing connections use the system's choice",
    ),
    ("acl-pubsub-default", "ACL users are not implemented yet"),
    ("aclfile", "ACL users are not implemented yet"),
    ("acllog-max-len", "ACL users are not implemented yet"),
    (
        "enable-debug-command",
        "not implemented yet: DEBUG is always served",
    ),
    ("enable-module-command", "modules are not served"),
    (
        "enable-protected-configs",
        "not implemented yet: every config may be set at run time",
    ),
    ("tls-port", "TLS is not implemented yet"),
    ("tls-cert-file", "TLS is not implemented yet"),
    ("tls-key-file", "TLS is not implemented yet"),
    ("tls-key-file-pass", "TLS is not implemented yet"),
    ("tls-client-cert-file", "TLS is not implemented yet"),
    ("tls-client-key-file", "TLS is not implemented yet"),
    ("tls-client-key-file-pass", "TLS is not implemented yet"),
    ("tls-dh-params-file", "TLS is not implemented yet"),
    ("tls-ca-cert-file", "TLS is not implemented yet"),
    ("tls-ca-cert-dir", "TLS is not implemented yet"),
    ("tls-auth-clients", "TLS is not implemented yet"),
    ("tls-replication", "TLS is not implemented yet"),
    ("tls-cluster", "TLS is not implemented yet"),
    ("tls-protocols", "TLS is not implemented yet"),
    ("tls-ciphers", "TLS is not implemented yet"),
    ("tls-ciphersuites", "TLS is not implemented yet"),
    ("tls-prefer-server-ciphers", "TLS is not implemented yet"),
    ("tls-session-caching", "TLS is not implemented yet"),
    ("tls-session-cache-size", "TLS is not implemented yet"),
    ("tls-session-cache-timeout", "TLS is not implemented yet"),
    // Cluster mode is refused (`cluster-enabled yes`); its settings are inert.
    (
        "cluster-enabled",
        "cluster mode is not supported (`yes` is refused)",
    ),
    ("cluster-config-file", "cluster mode is not supported"),
    ("cluster-node-timeout", "cluster mode is not supported"),
    ("cluster-port", "cluster mode is not supported"),
    ("cluster-announce-ip", "cluster mode is not supported"),
    ("cluster-announce-port", "cluster mode is not supported"),
    ("cluster-announce-bus-port", "cluster mode is not supported"),
    ("cluster-announce-tls-port", "cluster mode is not supported"),
    ("cluster-announce-hostname", "cluster mode is not supported"),
    (
        "cluster-preferred-endpoint-type",
        "cluster mode is not supported",
    ),
    (
        "cluster-require-full-coverage",
        "cluster mode is not supported",
    ),
    (
        "cluster-allow-reads-when-down",
        "cluster mode is not supported",
    ),
    (
        "cluster-allow-pubsubshard-when-down",
        "cluster mode is not supported",
    ),
    (
        "cluster-allow-replica-migration",
        "cluster mode is not supported",
    ),
    ("cluster-migration-barrier", "cluster mode is not supported"),
    (
        "cluster-replica-no-failover",
        "cluster mode is not supported",
    ),
    (
        "cluster-replica-validity-factor",
        "cluster mode is not supported",
    ),
    (
        "cluster-link-sendbuf-limit",
        "cluster mode is not supported",
    ),
];

/// Why `name` (canonical) has no effect, if it has none.
pub fn reason(name: &str) -> Option<&'static str> {
    NO_EFFECT
        .iter()
        .find(|(directive, _)| *directive == name)
        .map(|(_, reason)| *reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HONOURED_REDIS_DIRECTIVES, redis_directives, spec};

    #[test]
    fn every_redis_directive_takes_effect_or_says_why_not() {
        for (name, _) in redis_directives::REDIS_DIRECTIVES {
            let name = spec::canonical_name(name);
            let sluice_own = spec::DIRECTIVES.iter().any(|d| d.name == name);
            let honoured = HONOURED_REDIS_DIRECTIVES.contains(&name);
            assert!(
                sluice_own || honoured || reason(name).is_some(),
                "{name}: neither honoured nor listed with a reason"
            );
            assert!(
                !(honoured && reason(name).is_some()),
                "{name}: honoured and listed as without effect"
            );
        }
        for (name, _) in NO_EFFECT {
            assert!(
                redis_directives::REDIS_DIRECTIVES
                    .iter()
                    .any(|(known, _)| spec::canonical_name(known) == *name),
                "{name}: listed but not a Redis directive"
            );
        }
    }
}
