//! Configuration: redis.conf syntax, `--directive value` flags, and CONFIG GET/SET.
//!
//! Every directive keeps its canonical text form (what CONFIG GET prints) in one table; the
//! directives the server reads on hot paths are mirrored into typed fields by [`Config::apply`].

mod fsync;
pub mod keyspace_events;
pub mod no_effect;
mod redis_directives;
mod spec;
mod units;

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;

pub use fsync::FsyncPolicy;
pub use spec::{DIRECTIVES, Directive, Kind};
pub use units::{parse_bool, parse_memory};

use crate::resp::parse::split_args;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("Bad directive or wrong number of arguments")]
    UnknownDirective(String),
    #[error("{reason}")]
    BadValue { name: String, reason: String },
    #[error("can't set immutable config")]
    Immutable(String),
    #[error("{0}")]
    Refused(String),
    #[error("cannot read config file {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("config file line {line}: {source}\n>>> '{text}'")]
    AtLine {
        line: usize,
        text: String,
        #[source]
        source: Box<ConfigError>,
    },
}

impl ConfigError {
    /// Name of the directive the error is about, for CONFIG SET's message.
    pub fn directive(&self) -> &str {
        match self {
            ConfigError::UnknownDirective(n)
            | ConfigError::BadValue { name: n, .. }
            | ConfigError::Immutable(n) => n,
            ConfigError::AtLine { source, .. } => source.directive(),
            _ => "",
        }
    }
}

/// Output buffer limit of one client class (`client-output-buffer-limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// Directives Redis knows that sluice accepts without acting on them; warned about once.
    pub ignored: Vec<String>,
    save_seen: bool,
    pub config_file: Option<PathBuf>,
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub dir: PathBuf,
    pub dbfilename: String,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: usize,
    pub databases: usize,
    pub save_points: Vec<(u64, u64)>,
    pub stop_writes_on_bgsave_error: bool,
    pub replicaof: Option<(String, u16)>,
    pub loglevel: String,
    pub logfile: String,
    pub pidfile: String,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub output_limit_normal: OutputLimit,
    pub output_limit_replica: OutputLimit,
    pub output_limit_pubsub: OutputLimit,
    pub timeout_seconds: u64,
    pub tcp_keepalive_seconds: u64,
    pub tcp_backlog: u32,
    pub hz: u64,
    pub repl_backlog_size: u64,
    pub repl_log_fsync: FsyncPolicy,
    pub repl_ship_durable: bool,
    pub repl_compression: ReplCompression,
    /// `repl-compression-level`: None lets sluice choose (the directive's 0).
    pub repl_compression_level: Option<i32>,
    pub repl_io_engine: IoEngineSetting,
    pub io_threads: usize,
    pub daemonize: bool,
    pub masterauth: Option<String>,
    pub masteruser: Option<String>,
    pub replica_announce_ip: Option<String>,
    pub replica_announce_port: u16,
    pub replica_announced: bool,
    pub replica_priority: u64,
    pub shutdown_timeout_seconds: u64,
    pub repl_log_hot_size: u64,
    pub repl_log_snapshot_size: u64,
    pub repl_log_dir: String,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay_seconds: u64,
    pub repl_diskless_sync_max_replicas: u64,
    pub repl_timeout_seconds: u64,
    pub repl_ping_replica_period_seconds: u64,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag_seconds: u64,
    pub encoding_limits: EncodingLimits,
    /// `notify-keyspace-events`, read by every write: typed, not looked up by name.
    pub keyspace_events: keyspace_events::KeyspaceEvents,
    /// SLOWLOG and LATENCY settings, read after every command.
    pub introspection: Introspection,
    /// `tracking-table-max-keys`: keys CLIENT TRACKING remembers before it forgets some
    /// (0: no limit).
    pub tracking_table_max_keys: usize,
    /// `busy-reply-threshold` (`lua-time-limit`): after a script ran this long, other
    /// clients are answered BUSY and SCRIPT KILL / FUNCTION KILL may stop it.
    pub busy_reply_threshold_ms: u64,
    /// `maxmemory`: past it (counting memory as Redis does, without the replication log
    /// and replica buffers) commands that may grow the dataset are refused with -OOM
    /// (0: no limit). Nothing is evicted yet: every policy acts as `noeviction`.
    pub maxmemory_bytes: u64,
}

/// What the slow log and the latency monitor record.
#[derive(Debug, Clone, PartialEq)]
pub struct Introspection {
    /// `slowlog-log-slower-than`: commands that ran at least this long are logged;
    /// negative turns the log off.
    pub slowlog_slower_than_us: i64,
    /// `slowlog-max-len`.
    pub slowlog_len_max: usize,
    /// `latency-monitor-threshold`: events lasting at least this long are sampled; 0 is off.
    pub latency_threshold_ms: u64,
    /// `latency-tracking`: per-command latency histograms (LATENCY HISTOGRAM, INFO
    /// latencystats).
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`, shown by INFO latencystats.
    pub latency_percentiles: Vec<f64>,
}

impl Default for Introspection {
    fn default() -> Introspection {
        Introspection {
            slowlog_slower_than_us: 10_000,
            slowlog_len_max: 128,
            latency_threshold_ms: 0,
            latency_tracking: true,
            latency_percentiles: vec![50.0, 99.0, 99.9],
        }
    }
}

/// `repl-compression`: zstd-compressed full syncs for replicas that announce `capa zstd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplCompression {
    /// While the replica's link is the bottleneck.
    Auto,
    /// Always.
    Zstd,
    /// Never.
    No,
}

/// `repl-io-engine`: what sends full-sync payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoEngineSetting {
    /// io_uring where the kernel allows it, else epoll.
    Auto,
    IoUring,
    Epoll,
}

/// Thresholds of Redis's compact encodings, which decide some visible behaviours (reply
/// order of small sets, how compact sorted sets print scores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    /// When a stream node takes no more entries (`stream-node-max-entries`, `-bytes`).
    pub stream_node: crate::store::stream::NodeLimits,
    /// The largest sparse HyperLogLog, header included, before it turns dense
    /// (`hll-sparse-max-bytes`).
    pub hll_sparse_max_bytes: usize,
}

/// Redis directives sluice honours though it keeps them in the table of Redis's defaults
/// (their values are checked and shown as Redis shows them).
/// Why directive `name` (or its alias) changes nothing in sluice, if it changes nothing.
pub fn no_effect_reason(name: &str) -> Option<&'static str> {
    no_effect::reason(spec::canonical_name(name))
}

pub(crate) const HONOURED_REDIS_DIRECTIVES: &[&str] = &[
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "set-max-intset-entries",
    "stream-node-max-entries",
    "stream-node-max-bytes",
    "hll-sparse-max-bytes",
    "notify-keyspace-events",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "tracking-table-max-keys",
    "busy-reply-threshold",
    "maxmemory",
    // OBJECT ENCODING judges hashes by them.
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
];

impl Default for Config {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        for (name, value) in redis_directives::REDIS_DIRECTIVES {
            values.insert(*name, (*value).to_string());
        }
        for d in DIRECTIVES {
            values.insert(d.name, d.default.to_string());
        }
        let mut config = Config {
            values,
            ignored: Vec::new(),
            save_seen: false,
            config_file: None,
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            protected_mode: true,
            dir: PathBuf::from("."),
            dbfilename: "dump.rdb".into(),
            requirepass: None,
            maxclients: 10000,
            databases: 16,
            save_points: Vec::new(),
            stop_writes_on_bgsave_error: true,
            replicaof: None,
            loglevel: "notice".into(),
            logfile: String::new(),
            pidfile: String::new(),
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            output_limit_normal: OutputLimit::default(),
            output_limit_replica: OutputLimit::default(),
            output_limit_pubsub: OutputLimit::default(),
            timeout_seconds: 0,
            tcp_keepalive_seconds: 300,
            tcp_backlog: 511,
            hz: 10,
            repl_backlog_size: 1 << 30,
            repl_log_fsync: FsyncPolicy::EverySec,
            repl_ship_durable: false,
            repl_compression: ReplCompression::Auto,
            repl_compression_level: None,
            repl_io_engine: IoEngineSetting::Auto,
            io_threads: 1,
            daemonize: false,
            masterauth: None,
            masteruser: None,
            replica_announce_ip: None,
            replica_announce_port: 0,
            replica_announced: true,
            replica_priority: 100,
            shutdown_timeout_seconds: 10,
            repl_log_hot_size: 64 << 20,
            repl_log_snapshot_size: 128 << 20,
            repl_log_dir: "replog".into(),
            repl_diskless_sync: true,
            repl_diskless_sync_delay_seconds: 5,
            repl_diskless_sync_max_replicas: 0,
            repl_timeout_seconds: 60,
            repl_ping_replica_period_seconds: 10,
            replica_read_only: true,
            replica_serve_stale_data: true,
            min_replicas_to_write: 0,
            min_replicas_max_lag_seconds: 10,
            encoding_limits: EncodingLimits {
                zset_max_listpack_entries: 128,
                zset_max_listpack_value: 64,
                set_max_intset_entries: 512,
                stream_node: crate::store::stream::NodeLimits::default(),
                hll_sparse_max_bytes: 3000,
            },
            keyspace_events: keyspace_events::KeyspaceEvents::default(),
            introspection: Introspection::default(),
            tracking_table_max_keys: 1_000_000,
            busy_reply_threshold_ms: 5000,
            maxmemory_bytes: 0,
        };
        let names: Vec<&'static str> = config.values.keys().copied().collect();
        for name in names {
            // Defaults are known-good; apply cannot fail on them.
            let _ = config.apply(name);
        }
        config
    }
}

/// Where a setting comes from: start-up (file or flags) may set immutable directives,
/// CONFIG SET may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Startup,
    Runtime,
}

impl Config {
    /// Builds the configuration from redis-server style arguments:
    /// `[config-file] [--directive value ...]`, where `-` as the file reads standard input.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut rest = args;
        let mut text = String::new();
        if let Some(first) = rest.first()
            && !first.starts_with("--")
        {
            let path = PathBuf::from(first);
            let content = if first == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&path)
            }
            .map_err(|e| ConfigError::Io {
                path: first.clone(),
                reason: e.to_string(),
            })?;
            text.push_str(&content);
            text.push('\n');
            if first != "-" {
                config.config_file = Some(std::fs::canonicalize(&path).unwrap_or(path));
            }
            rest = &rest[1..];
        }
        text.push_str(&flags_to_config_text(rest));
        config.load_text(&text)?;
        Ok(config)
    }

    /// Applies redis.conf text, line by line.
    pub fn load_text(&mut self, text: &str) -> Result<(), ConfigError> {
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at_line = |e: ConfigError| ConfigError::AtLine {
                line: index + 1,
                text: line.to_string(),
                source: Box::new(e),
            };
            let words = split_args(line.as_bytes()).ok_or_else(|| {
                at_line(ConfigError::BadValue {
                    name: String::new(),
                    reason: "Unbalanced quotes in configuration line".into(),
                })
            })?;
            let words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            let Some((name, values)) = words.split_first() else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if name == "include" {
                for path in values {
                    let content = std::fs::read_to_string(path).map_err(|e| {
                        at_line(ConfigError::Io {
                            path: path.clone(),
                            reason: e.to_string(),
                        })
                    })?;
                    self.load_text(&content)?;
                }
                continue;
            }
            self.set(&name, values, Origin::Startup).map_err(at_line)?;
        }
        Ok(())
    }

    /// Sets one directive from its words (after the name).
    pub fn set(&mut self, name: &str, words: &[String], origin: Origin) -> Result<(), ConfigError> {
        let name = spec::canonical_name(name);
        if let Some(directive) = DIRECTIVES.iter().find(|d| d.name == name) {
            if origin == Origin::Runtime && !directive.mutable {
                return Err(ConfigError::Immutable(name.to_string()));
            }
            let words = self.merged_words(directive.name, words, origin);
            let mut value = directive.kind.normalize(name, &words)?;
            if directive.name == "client-output-buffer-limit" {
                let limits =
                    spec::parse_output_limits(&value).map_err(|reason| ConfigError::BadValue {
                        name: name.to_string(),
                        reason,
                    })?;
                value = spec::format_output_limits(&limits);
            }
            if let Some(reason) = spec::refusal(name, &value) {
                return Err(ConfigError::Refused(reason));
            }
            let previous = self.values.insert(directive.name, value);
            if let Err(e) = self.apply(directive.name) {
                if let Some(previous) = previous {
                    self.values.insert(directive.name, previous);
                }
                return Err(e);
            }
            return Ok(());
        }
        if let Some((known, _)) = redis_directives::REDIS_DIRECTIVES
            .iter()
            .find(|(n, _)| *n == name)
        {
            if let Some(reason) = spec::refusal(name, &words.join(" ")) {
                return Err(ConfigError::Refused(reason));
            }
            if words.is_empty() {
                return Err(ConfigError::UnknownDirective(name.to_string()));
            }
            self.values.insert(known, words.join(" "));
            // Encoding thresholds are honoured where they change what clients see.
            self.apply(known)?;
            if !HONOURED_REDIS_DIRECTIVES.contains(known)
                && !self.ignored.iter().any(|n| n == known)
            {
                self.ignored.push(known.to_string());
            }
            return Ok(());
        }
        if spec::FILE_ONLY_DIRECTIVES.contains(&name) {
            if !self.ignored.iter().any(|n| n == name) {
                self.ignored.push(name.to_string());
            }
            return Ok(());
        }
        Err(ConfigError::UnknownDirective(name.to_string()))
    }

    /// Directives whose lines add to the current value rather than replace it: a partial
    /// `client-output-buffer-limit` keeps the other classes, and the `save` lines of one
    /// config file accumulate (the first one replaces the built-in default).
    fn merged_words(&mut self, name: &str, words: &[String], origin: Origin) -> Vec<String> {
        let current = self.values.get(name).cloned().unwrap_or_default();
        match name {
            "client-output-buffer-limit" => std::iter::once(current)
                .chain(words.iter().cloned())
                .collect(),
            "save" if origin == Origin::Startup => {
                let joined = words.join(" ");
                if joined.trim().is_empty() || !self.save_seen {
                    self.save_seen = true;
                    words.to_vec()
                } else {
                    vec![current, joined]
                }
            }
            _ => words.to_vec(),
        }
    }

    /// The canonical value of a directive, as CONFIG GET shows it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(spec::canonical_name(name))
            .map(String::as_str)
    }

    /// Every (name, value) whose name matches the glob, aliases included as Redis does.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.values {
            if crate::util::glob::matches(pattern, name.as_bytes(), true) {
                out.push((name.to_string(), value.clone()));
            }
        }
        for (alias, target) in spec::ALIASES {
            if crate::util::glob::matches(pattern, alias.as_bytes(), true)
                && let Some(v) = self.values.get(target)
            {
                out.push((alias.to_string(), v.clone()));
            }
        }
        out
    }

    /// Mirrors one directive's text value into its typed field.
    fn apply(&mut self, name: &'static str) -> Result<(), ConfigError> {
        let value = self.values.get(name).cloned().unwrap_or_default();
        let bad = |reason: &str| ConfigError::BadValue {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad("argument couldn't be parsed into an integer"))
        };
        // The directive table checks ranges first; this keeps a value that slipped past it
        // from wrapping into a different one.
        fn narrow<T: TryFrom<u64>>(name: &str, v: u64) -> Result<T, ConfigError> {
            T::try_from(v).map_err(|_| ConfigError::BadValue {
                name: name.to_string(),
                reason: format!("argument {v} is out of range"),
            })
        }
        match name {
            "port" => {
                self.port = int(&value)?
                    .try_into()
                    .map_err(|_| bad("argument must be between 0 and 65535 inclusive"))?
            }
            "bind" => self.bind = value.split_whitespace().map(str::to_string).collect(),
            "protected-mode" => self.protected_mode = value == "yes",
            "dir" => self.dir = PathBuf::from(&value),
            "dbfilename" => self.dbfilename = value,
            "requirepass" => {
                self.requirepass = if value.is_empty() {
                    None
                } else {
                    Some(value.into_bytes())
                }
            }
            "maxclients" => self.maxclients = narrow(name, int(&value)?)?,
            "databases" => self.databases = narrow(name, int(&value)?)?,
            "save" => self.save_points = spec::parse_save(&value).map_err(|r| bad(&r))?,
            "stop-writes-on-bgsave-error" => self.stop_writes_on_bgsave_error = value == "yes",
            "replicaof" => {
                self.replicaof = match value.split_whitespace().collect::<Vec<_>>().as_slice() {
                    [] => None,
                    [host, port] => Some((
                        host.to_string(),
                        port.parse().map_err(|_| bad("Invalid master port"))?,
                    )),
                    _ => return Err(bad("wrong number of arguments")),
                }
            }
            "loglevel" => self.loglevel = value,
            "logfile" => self.logfile = value,
            "pidfile" => self.pidfile = value,
            "proto-max-bulk-len" => self.proto_max_bulk_len = int(&value)?,
            "client-query-buffer-limit" => self.client_query_buffer_limit = int(&value)?,
            "client-output-buffer-limit" => {
                let limits = spec::parse_output_limits(&value).map_err(|r| bad(&r))?;
                self.output_limit_normal = limits[0];
                self.output_limit_replica = limits[1];
                self.output_limit_pubsub = limits[2];
            }
            "timeout" => self.timeout_seconds = int(&value)?,
            "tcp-keepalive" => self.tcp_keepalive_seconds = int(&value)?,
            "tcp-backlog" => self.tcp_backlog = narrow(name, int(&value)?)?,
            "hz" => self.hz = int(&value)?.clamp(1, 500),
            "repl-backlog-size" => self.repl_backlog_size = int(&value)?,
            "repl-log-fsync" => {
                self.repl_log_fsync = FsyncPolicy::parse(&value)
                    .ok_or_else(|| bad("argument must be one of always, everysec, no"))?
            }
            "repl-ship-durable" => self.repl_ship_durable = value == "yes",
            "repl-compression" => {
                self.repl_compression = match value.as_str() {
                    "zstd" => ReplCompression::Zstd,
                    "no" => ReplCompression::No,
                    _ => ReplCompression::Auto,
                }
            }
            "repl-compression-level" => {
                self.repl_compression_level = Some(narrow(name, int(&value)?)?).filter(|&l| l != 0)
            }
            "repl-io-engine" => {
                self.repl_io_engine = match value.as_str() {
                    "io_uring" => IoEngineSetting::IoUring,
                    "epoll" => IoEngineSetting::Epoll,
                    _ => IoEngineSetting::Auto,
                }
            }
            "io-threads" => self.io_threads = narrow(name, int(&value)?.max(1))?,
            "daemonize" => self.daemonize = value == "yes",
            "masterauth" => self.masterauth = Some(value).filter(|v| !v.is_empty()),
            "masteruser" => self.masteruser = Some(value).filter(|v| !v.is_empty()),
            "replica-announce-ip" => {
                self.replica_announce_ip = Some(value).filter(|v| !v.is_empty())
            }
            "replica-announce-port" => self.replica_announce_port = narrow(name, int(&value)?)?,
            "replica-announced" => self.replica_announced = value == "yes",
            "replica-priority" => self.replica_priority = int(&value)?,
            "shutdown-timeout" => self.shutdown_timeout_seconds = int(&value)?,
            "repl-log-hot-size" => self.repl_log_hot_size = int(&value)?,
            "repl-log-snapshot-size" => self.repl_log_snapshot_size = int(&value)?,
            "repl-log-dir" => self.repl_log_dir = value,
            "repl-diskless-sync" => self.repl_diskless_sync = value == "yes",
            "repl-diskless-sync-delay" => self.repl_diskless_sync_delay_seconds = int(&value)?,
            "repl-diskless-sync-max-replicas" => {
                self.repl_diskless_sync_max_replicas = int(&value)?
            }
            "repl-timeout" => self.repl_timeout_seconds = int(&value)?,
            "repl-ping-replica-period" => self.repl_ping_replica_period_seconds = int(&value)?,
            "replica-read-only" => self.replica_read_only = value == "yes",
            "replica-serve-stale-data" => self.replica_serve_stale_data = value == "yes",
            "min-replicas-to-write" => self.min_replicas_to_write = int(&value)?,
            "min-replicas-max-lag" => self.min_replicas_max_lag_seconds = int(&value)?,
            "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
                self.encoding_limits.zset_max_listpack_entries = value.parse().unwrap_or(128)
            }
            "zset-max-listpack-value" | "zset-max-ziplist-value" => {
                self.encoding_limits.zset_max_listpack_value = value.parse().unwrap_or(64)
            }
            "set-max-intset-entries" => {
                self.encoding_limits.set_max_intset_entries = value.parse().unwrap_or(512)
            }
            "stream-node-max-entries" => {
                self.encoding_limits.stream_node.entries_max = value.parse().unwrap_or(100)
            }
            "stream-node-max-bytes" => {
                self.encoding_limits.stream_node.bytes_max = parse_memory(&value)
                    .and_then(|b| usize::try_from(b).ok())
                    .unwrap_or(4096)
            }
            "notify-keyspace-events" => {
                let events = keyspace_events::KeyspaceEvents::parse(&value)
                    .ok_or_else(|| bad("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))?;
                self.keyspace_events = events;
                // Shown as Redis shows it: `KEA` reads back as `AKE`.
                self.values.insert(name, events.to_string());
            }
            "maxmemory" => {
                self.maxmemory_bytes =
                    parse_memory(&value).ok_or_else(|| bad("argument must be a memory value"))?;
                // Shown in bytes, as Redis shows it.
                self.values.insert(name, self.maxmemory_bytes.to_string());
            }
            "maxmemory-policy" => {
                const POLICIES: [&str; 8] = [
                    "volatile-lru",
                    "volatile-lfu",
                    "volatile-random",
                    "volatile-ttl",
                    "allkeys-lru",
                    "allkeys-lfu",
                    "allkeys-random",
                    "noeviction",
                ];
                let policy = value.to_ascii_lowercase();
                if !POLICIES.contains(&policy.as_str()) {
                    return Err(bad(&format!(
                        "argument(s) must be one of the following: {}",
                        POLICIES.join(", ")
                    )));
                }
                self.values.insert(name, policy);
            }
            "hll-sparse-max-bytes" => {
                self.encoding_limits.hll_sparse_max_bytes = parse_memory(&value)
                    .and_then(|b| usize::try_from(b).ok())
                    .unwrap_or(3000)
            }
            "slowlog-log-slower-than" => {
                self.introspection.slowlog_slower_than_us = value
                    .parse()
                    .map_err(|_| bad("argument couldn't be parsed into an integer"))?
            }
            "slowlog-max-len" => {
                self.introspection.slowlog_len_max = value
                    .parse()
                    .map_err(|_| bad("argument couldn't be parsed into an integer"))?
            }
            "busy-reply-threshold" => {
                self.busy_reply_threshold_ms = value
                    .parse()
                    .map_err(|_| bad("argument couldn't be parsed into an integer"))?
            }
            "latency-monitor-threshold" => {
                self.introspection.latency_threshold_ms = value
                    .parse()
                    .map_err(|_| bad("argument couldn't be parsed into an integer"))?
            }
            "latency-tracking" => self.introspection.latency_tracking = value == "yes",
            "tracking-table-max-keys" => {
                self.tracking_table_max_keys = value
                    .parse()
                    .map_err(|_| bad("argument couldn't be parsed into an integer"))?
            }
            "latency-tracking-info-percentiles" => {
                let percentiles: Option<Vec<f64>> = value
                    .split_ascii_whitespace()
                    .map(|p| p.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p)))
                    .collect();
                let percentiles = percentiles
                    .ok_or_else(|| bad("Invalid latency-tracking-info-percentiles parameters"))?;
                // Shown as Redis shows them: "50.0 99.0" reads back as "50 99".
                let shown: Vec<String> = percentiles.iter().map(|p| p.to_string()).collect();
                self.values.insert(name, shown.join(" "));
                self.introspection.latency_percentiles = percentiles;
            }
            _ => {}
        }
        Ok(())
    }

    /// REPLICAOF at run time: the master we follow now, so that CONFIG REWRITE (which
    /// Sentinel sends with every REPLICAOF) persists it and HELLO reports the role.
    pub fn record_replicaof(&mut self, master: Option<(String, u16)>) {
        let text = master
            .as_ref()
            .map_or_else(String::new, |(host, port)| format!("{host} {port}"));
        self.values.insert("replicaof", text);
        self.replicaof = master;
    }

    /// The `rewrite`-ready list of directives that differ from their defaults.
    pub fn non_default(&self) -> Vec<(String, String)> {
        let defaults = Config::default();
        self.values
            .iter()
            .filter(|(name, value)| defaults.values.get(*name) != Some(*value))
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }
}

/// Turns `--name a b --other c` into config-file lines, quoting each value the way
/// redis-server does so that `--save ""` means an empty argument.
pub fn flags_to_config_text(args: &[String]) -> String {
    let mut text = String::new();
    let mut first = true;
    for arg in args {
        if let Some(name) = arg
            .strip_prefix("--")
            .filter(|n| !n.is_empty() && !n.starts_with(|c: char| c.is_ascii_digit()))
        {
            if !first {
                text.push('\n');
            }
            text.push_str(name);
            first = false;
        } else {
            text.push(' ');
            text.push('"');
            for c in arg.chars() {
                match c {
                    '"' => text.push_str("\\\""),
                    '\\' => text.push_str("\\\\"),
                    '\n' => text.push_str("\\n"),
                    c => text.push(c),
                }
            }
            text.push('"');
        }
    }
    text.push('\n');
    text
}

impl Config {
    /// CONFIG REWRITE: updates the config file in place. Lines of directives sluice knows
    /// are rewritten with the current value; comments and other lines are kept as they are;
    /// directives that differ from their default and had no line are appended.
    pub fn rewrite(&self) -> Result<(), String> {
        let path = self
            .config_file
            .as_ref()
            .ok_or("The server is running without a config file")?;
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let mut written: Vec<&str> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for line in old.lines() {
            let trimmed = line.trim();
            let first = trimmed
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let canonical = spec::canonical_name(&first);
            let known = self.values.get_key_value(canonical).map(|(k, _)| *k);
            match known {
                Some(name) if !trimmed.starts_with('#') => {
                    if written.contains(&name) {
                        continue;
                    }
                    written.push(name);
                    if let Some(line) = self.config_line(name) {
                        lines.push(line);
                    }
                }
                _ => lines.push(line.to_string()),
            }
        }
        let defaults = Config::default();
        let mut appended = false;
        for (name, value) in &self.values {
            if written.contains(name) || defaults.values.get(name) == Some(value) {
                continue;
            }
            if !appended {
                lines.push("# Generated by CONFIG REWRITE".to_string());
                appended = true;
            }
            if let Some(line) = self.config_line(name) {
                lines.push(line);
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        let tmp = path.with_extension("rewrite.tmp");
        let fail = |e: std::io::Error| format!("Rewriting config file: {e}");
        // Sentinel rewrites the topology into this file at each promotion: it must survive
        // a crash right after, so the data is synced before the rename makes it current.
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp).map_err(fail)?;
            file.write_all(text.as_bytes()).map_err(fail)?;
            file.sync_all().map_err(fail)?;
        }
        std::fs::rename(&tmp, path).map_err(fail)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    fn config_line(&self, name: &str) -> Option<String> {
        let value = self.values.get(name)?;
        let multi_word = DIRECTIVES
            .iter()
            .any(|d| d.name == name && matches!(d.kind, Kind::Words));
        if name == "replicaof" && value.is_empty() {
            return None;
        }
        if multi_word && !value.is_empty() {
            return Some(format!("{name} {value}"));
        }
        let needs_quotes = value.is_empty()
            || value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'');
        if needs_quotes {
            Some(format!(
                "{name} \"{}\"",
                value.replace('\\', "\\\\").replace('"', "\\\"")
            ))
        } else {
            Some(format!("{name} {value}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_like_redis_server() {
        let c = Config::from_args(&args(&[
            "--port",
            "7000",
            "--replicaof",
            "127.0.0.1",
            "6379",
            "--save",
            "",
            "--repl-backlog-size",
            "64mb",
        ]))
        .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.replicaof, Some(("127.0.0.1".into(), 6379)));
        assert!(c.save_points.is_empty());
        assert_eq!(c.get("save"), Some(""));
        assert_eq!(c.get("repl-backlog-size"), Some("67108864"));
        let c = Config::from_args(&args(&["--save", "3600 1 300 100"])).unwrap();
        assert_eq!(c.save_points, vec![(3600, 1), (300, 100)]);
    }

    #[test]
    fn the_directives_sluice_reads_are_typed_and_honoured() {
        let mut c = Config::from_args(&args(&[
            "--repl-compression",
            "zstd",
            "--repl-compression-level",
            "6",
            "--repl-io-engine",
            "epoll",
            "--slave-announce-ip",
            "10.0.0.7",
            "--replica-announce-port",
            "7001",
            "--replica-priority",
            "200",
            "--shutdown-timeout",
            "3",
            "--masterauth",
            "secret",
        ]))
        .unwrap();
        assert_eq!(c.repl_compression, ReplCompression::Zstd);
        assert_eq!(c.repl_compression_level, Some(6));
        assert_eq!(c.repl_io_engine, IoEngineSetting::Epoll);
        assert_eq!(c.replica_announce_ip.as_deref(), Some("10.0.0.7"));
        assert_eq!(c.replica_announce_port, 7001);
        assert_eq!(c.replica_priority, 200);
        assert_eq!(c.shutdown_timeout_seconds, 3);
        assert_eq!(c.masterauth.as_deref(), Some("secret"));
        assert!(
            c.ignored.is_empty(),
            "honoured, not ignored: {:?}",
            c.ignored
        );
        let set = |c: &mut Config, name: &str, value: &str| {
            c.set(name, &[value.to_string()], Origin::Runtime).unwrap()
        };
        set(&mut c, "repl-compression-level", "0");
        assert_eq!(c.repl_compression_level, None, "0 lets sluice choose");
        set(&mut c, "masterauth", "");
        assert_eq!(c.masterauth, None);
        set(&mut c, "replica-announced", "no");
        assert!(!c.replica_announced);
        assert!(
            c.set("replica-announce-port", &["70000".into()], Origin::Runtime)
                .is_err()
        );
    }

    #[test]
    fn unknown_and_bad_values_are_errors() {
        assert!(matches!(
            Config::from_args(&args(&["--no-such-thing", "1"])),
            Err(ConfigError::AtLine { .. })
        ));
        assert!(Config::from_args(&args(&["--port", "abc"])).is_err());
        assert!(Config::from_args(&args(&["--appendonly", "yes"])).is_err());
        let c = Config::from_args(&args(&[
            "--appendonly",
            "no",
            "--lazyfree-lazy-expire",
            "yes",
        ]))
        .unwrap();
        assert_eq!(c.ignored, vec!["lazyfree-lazy-expire".to_string()]);
    }

    #[test]
    fn stock_debian_config_loads() {
        let text = "bind 127.0.0.1 -::1\nprotected-mode yes\ndaemonize yes\nsave 3600 1\nsave 300 100\n\
                    client-output-buffer-limit pubsub 32mb 8mb 60\nslave-read-only yes\n";
        let mut c = Config::default();
        c.load_text(text).unwrap();
        assert_eq!(c.bind, vec!["127.0.0.1".to_string(), "-::1".to_string()]);
        assert_eq!(c.save_points, vec![(3600, 1), (300, 100)]);
        assert_eq!(c.output_limit_pubsub.hard_bytes, 32 << 20);
        assert_eq!(c.get("replica-read-only"), Some("yes"));
    }
}
