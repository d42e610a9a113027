//! INFO, with Redis's section and field names (tools and redis-sentinel parse them).

use std::fmt::Write;

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

pub fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut sections: Vec<&str> = Vec::new();
    if argv.len() == 1 {
        sections.extend(DEFAULT_SECTIONS);
    }
    for arg in &argv[1..] {
        let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match name.as_str() {
            "default" => sections.extend(DEFAULT_SECTIONS),
            "all" | "everything" => sections.extend(ALL_SECTIONS),
            other => {
                if let Some(s) = ALL_SECTIONS.iter().find(|s| **s == other) {
                    sections.push(s);
                }
            }
        }
    }
    let mut text = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for section in sections {
        if seen.contains(&section) {
            continue;
        }
        seen.push(section);
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        render_section(ctx, section, &mut text);
    }
    Reply::Verbatim(Bytes::from(text))
}

/// INFO persistence: Redis's fields in Redis's order, those about fork and AOF at their
/// constant values, and the `loading_*` fields while the RDB file loads.
fn persistence_section(state: &crate::server::State, out: &mut String) -> std::fmt::Result {
    let p = &state.persistence;
    let now_unix = crate::server::unix_time_ms() / 1000;
    let (in_progress, current_seconds) = match &p.active {
        Some(active) => (1, active.started.elapsed().as_secs() as i64),
        None => (0, -1),
    };
    write!(
        out,
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n\
         current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n\
         current_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{in_progress}\r\n\
         rdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\n\
         rdb_current_bgsave_time_sec:{current_seconds}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\n\
         rdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:0\r\n\
         aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\n\
         aof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\n\
         aof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\n\
         module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(state.loading),
        state.dirty,
        state.lastsave_unix,
        if p.last_status_ok { "ok" } else { "err" },
        p.last_bgsave_seconds,
        p.saves,
        p.last_load_keys_expired,
        p.last_load_keys_loaded,
    )?;
    if let Some(loading) = p.loading.as_ref().filter(|_| state.loading) {
        let loaded = loading
            .loaded_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        let total = loading.total_bytes;
        let percent = if total > 0 {
            loaded as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let elapsed = now_unix.saturating_sub(loading.started_unix);
        // Redis's estimate: the time so far, scaled by what is left.
        let eta = (elapsed * total.saturating_sub(loaded))
            .checked_div(loaded)
            .unwrap_or(1);
        write!(
            out,
            "loading_start_time:{}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\n\
             loading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{percent:.2}\r\nloading_eta_seconds:{eta}\r\n",
            loading.started_unix,
        )?;
    }
    Ok(())
}

/// Bytes the process has allocated (the counting allocator in main) or, without it, RSS.
pub fn used_memory() -> u64 {
    let counted = crate::alloc::allocated_bytes();
    if counted > 0 { counted } else { rss_bytes() }
}

pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass; a zeroed rusage is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (secs(usage.ru_stime), secs(usage.ru_utime))
}

pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

fn render_section(ctx: &mut Ctx<'_>, section: &str, out: &mut String) {
    let state = &*ctx.state;
    let uptime = ctx.server.started.elapsed().as_secs();
    let _ = match section {
        "server" => write!(
            out,
            "# Server\r\nredis_version:{}\r\nsluice_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
             redis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\n\
             multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\n\
             process_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\n\
             uptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            ctx.server.run_id,
            ctx.server
                .bound_port
                .load(std::sync::atomic::Ordering::Relaxed),
            crate::server::unix_time_us(),
            uptime,
            uptime / 86400,
            state.config.hz,
            state.config.hz,
            (ctx.now_ms / 1000) & ((1 << 24) - 1),
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            state
                .config
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        "clients" => write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
             client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\n\
             tracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
            state.clients.len(),
            state.config.maxclients,
            state.blocking.len() + state.pauses.postponed,
            state.tracking.clients.len(),
            state
                .blocking
                .clients
                .values()
                .filter(|b| b.request.deadline_ms.is_some())
                .count(),
        ),
        "memory" => super::info_memory::render(ctx, out),
        "persistence" => persistence_section(state, out),
        "stats" => {
            let (tracking_keys, tracking_items, tracking_prefixes) = state.tracking.totals();
            let s = &state.stats;
            write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 rejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n\
                 expired_keys:{}\r\nexpired_subkeys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\n\
                 expire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\n\
                 current_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\n\
                 pubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:{}\r\n\
                 slave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n\
                 active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n\
                 current_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\n\
                 tracking_total_prefixes:{}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\n\
                 dump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\n\
                 io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nclient_query_buffer_limit_disconnections:{}\r\n\
                 client_output_buffer_limit_disconnections:{}\r\nsync_snapshots:{}\r\n",
                s.total_connections_received,
                s.total_commands_processed,
                s.instantaneous_ops_per_sec(),
                ctx.server
                    .net_input_bytes
                    .load(std::sync::atomic::Ordering::Relaxed),
                ctx.server
                    .net_output_bytes
                    .load(std::sync::atomic::Ordering::Relaxed),
                s.rejected_connections,
                state.repl.sync_full,
                state.repl.sync_partial_ok,
                state.repl.sync_partial_err,
                s.expired_keys,
                s.expired_subkeys,
                s.evicted_keys,
                s.keyspace_hits,
                s.keyspace_misses,
                state.pubsub.channels.len(),
                state.pubsub.patterns.len(),
                state.pubsub.shard_channels.len(),
                ctx.server.migrate_sockets.len(),
                tracking_keys,
                tracking_items,
                tracking_prefixes,
                s.unexpected_error_replies,
                s.total_error_replies,
                s.client_query_buffer_kills,
                s.client_output_buffer_kills,
                state.repl.sync_snapshots,
            )
        }
        "replication" => {
            render_replication(ctx, out);
            Ok(())
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            write!(
                out,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\n\
                 used_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
            )
        }
        "modules" => write!(out, "# Modules\r\n"),
        "cluster" => write!(out, "# Cluster\r\ncluster_enabled:0\r\n"),
        "errorstats" => {
            let _ = write!(out, "# Errorstats\r\n");
            let mut errors: Vec<_> = state.stats.errors.iter().collect();
            errors.sort();
            for (code, count) in errors {
                let _ = write!(out, "errorstat_{code}:count={count}\r\n");
            }
            Ok(())
        }
        "commandstats" => {
            let _ = write!(out, "# Commandstats\r\n");
            let mut stats: Vec<_> = state.stats.commands.values().collect();
            stats.sort_by_key(|s| s.name);
            for s in stats {
                let name = s.name;
                let per_call = if s.calls > 0 {
                    s.usec as f64 / s.calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                    s.calls, s.usec, s.rejected_calls, s.failed_calls
                );
            }
            Ok(())
        }
        "latencystats" => {
            let _ = write!(out, "# Latencystats\r\n");
            // With tracking off the section is there, empty, as in Redis.
            let mut stats: Vec<_> = if state.config.introspection.latency_tracking {
                state
                    .stats
                    .commands
                    .values()
                    .filter_map(|s| Some((s.name, s.latency.as_ref()?)))
                    .collect()
            } else {
                Vec::new()
            };
            stats.sort_by_key(|(name, _)| *name);
            for (name, histogram) in stats {
                let _ = write!(out, "latency_percentiles_usec_{name}:");
                for (i, &percentile) in state
                    .config
                    .introspection
                    .latency_percentiles
                    .iter()
                    .enumerate()
                {
                    let separator = if i == 0 { "" } else { "," };
                    let usec = histogram.value_at_percentile(percentile) as f64 / 1000.0;
                    let _ = write!(out, "{separator}p{percentile}={usec:.3}");
                }
                let _ = write!(out, "\r\n");
            }
            Ok(())
        }
        "keyspace" => {
            let _ = write!(out, "# Keyspace\r\n");
            for (i, db) in state.dbs.iter().enumerate() {
                if !db.is_empty() {
                    let _ = write!(
                        out,
                        "db{i}:keys={},expires={},avg_ttl=0\r\n",
                        db.len(),
                        db.volatile_len()
                    );
                }
            }
            Ok(())
        }
        _ => Ok(()),
    };
}

/// `min_slaves_good_slaves`, shown (on masters and replicas alike) when
/// `min-replicas-to-write` is in force, as Redis does.
fn write_good_replicas(state: &crate::server::State, out: &mut String) {
    let config = &state.config;
    if config.min_replicas_to_write > 0 && config.min_replicas_max_lag_seconds > 0 {
        let good = crate::repl::wait::good_replica_count(state);
        let _ = write!(out, "min_slaves_good_slaves:{good}\r\n");
    }
}

fn render_replication(ctx: &Ctx<'_>, out: &mut String) {
    use crate::server::replication::LinkStatus;
    let state = &*ctx.state;
    let repl = &state.repl;
    let now_ms = ctx.now_ms;
    let end = repl.log.end_offset();
    let _ = write!(out, "# Replication\r\n");
    match &repl.master {
        None => {
            let _ = write!(
                out,
                "role:master\r\nconnected_slaves:{}\r\n",
                repl.replicas.len()
            );
            write_good_replicas(state, out);
            render_replica_lines(repl, now_ms, out);
        }
        Some(link) => {
            let up = link.status == LinkStatus::Up;
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n\
                 master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\n\
                 slave_repl_offset:{}\r\n",
                link.host,
                link.port,
                if up { "up" } else { "down" },
                if link.last_io_unix_ms > 0 {
                    (now_ms.saturating_sub(link.last_io_unix_ms) / 1000) as i64
                } else {
                    -1
                },
                u8::from(link.sync_in_progress),
                link.read_offset.max(end),
                end,
            );
            if link.sync_in_progress {
                let total = link.sync_total_bytes;
                let read = link.sync_read_bytes;
                let perc = if total > 0 {
                    crate::repl::role::sync_percent(read, total as u64)
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\n\
                     master_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    if total > 0 {
                        (total - read as i64).max(0)
                    } else {
                        -1
                    },
                    now_ms.saturating_sub(link.last_io_unix_ms) / 1000,
                );
            }
            if !up {
                let down_since = link
                    .link_down_since_unix_ms
                    .map_or(-1, |t| (now_ms.saturating_sub(t) / 1000) as i64);
                let _ = write!(out, "master_link_down_since_seconds:{down_since}\r\n");
            }
            if let Some(error) = &link.last_error {
                let _ = write!(
                    out,
                    "master_link_last_error:{}\r\n",
                    error.replace(['\r', '\n'], " ")
                );
            }
            let _ = write!(
                out,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\nconnected_slaves:{}\r\n",
                state.config.replica_priority,
                u8::from(state.config.replica_read_only),
                u8::from(state.config.replica_announced),
                repl.replicas.len(),
            );
            write_good_replicas(state, out);
            render_replica_lines(repl, now_ms, out);
        }
    }
    let _ = write!(
        out,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{end}\r\n\
         second_repl_offset:{}\r\nrepl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\n\
         repl_backlog_histlen:{}\r\n",
        crate::server::replication::FailoverPhase::info_name(
            repl.failover.as_ref().map(|f| f.phase)
        ),
        repl.ids.replid,
        repl.ids.replid2,
        repl.ids.second_replid_offset,
        repl.log.backlog_bytes_max(),
        repl.log_start() + 1,
        end - repl.log_start(),
    );
    let _ = write!(out, "repl_io_engine:{}\r\n", repl.io_engine.name());
    // sluice's durable log (issue: durable replication state); Redis has no equivalent.
    match &repl.durable {
        Some(d) => {
            let _ = write!(
                out,
                "repl_log_durable:1\r\nrepl_log_fsync:{}\r\nrepl_log_status:{}\r\nrepl_log_durable_offset:{}\r\n\
                 repl_log_written_offset:{}\r\nrepl_log_first_byte_offset:{}\r\nrepl_log_snapshot_offset:{}\r\n\
                 repl_log_memory_first_byte_offset:{}\r\nrepl_log_disk_bytes:{}\r\n",
                d.fsync().name(),
                if d.has_error() { "err" } else { "ok" },
                d.durable_end(),
                d.written_end(),
                d.start() + 1,
                d.base_offset(),
                repl.log.start_offset() + 1,
                d.size_on_disk_bytes(),
            );
        }
        None => out.push_str("repl_log_durable:0\r\n"),
    }
}

/// The `slaveN:` lines monitoring tools and redis-sentinel parse.
fn render_replica_lines(
    repl: &crate::server::replication::ReplState,
    now_ms: u64,
    out: &mut String,
) {
    for (index, r) in repl.replicas.values().enumerate() {
        let _ = write!(
            out,
            "slave{index}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.listening_port,
            r.phase.info_name(),
            r.ack_offset,
            now_ms.saturating_sub(r.ack_unix_ms) / 1000,
        );
    }
}
