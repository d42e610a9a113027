//! LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR | HISTOGRAM | HELP (Redis 7.0's
//! replies). Events are sampled by `dispatch` (commands) and the cron (expire cycle) into
//! `server::latency`; per-command histograms live in the command statistics.

use std::fmt::Write;

use bytes::Bytes;

use crate::cmd::{Ctx, errors, lookup, subcommands};
use crate::resp::Reply;
use crate::server::latency::EventSeries;
use crate::server::stats::CommandStat;
use crate::server::unix_time_ms;

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// Width of LATENCY GRAPH.
const GRAPH_COLUMNS: usize = 80;
/// Height of LATENCY GRAPH's bars, in rows.
const GRAPH_ROWS: u64 = 4;

pub fn latency(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    let monitor = &ctx.state.latency;
    match (sub.as_slice(), argv.len()) {
        (b"help", 2) => Reply::Array(HELP.iter().map(|line| Reply::simple(*line)).collect()),
        (b"latest", 2) => Reply::Array(
            monitor
                .events
                .iter()
                .filter_map(|(event, series)| {
                    let last = series.samples.last()?;
                    Some(Reply::Array(vec![
                        Reply::Bulk(Bytes::from_static(event.as_bytes())),
                        Reply::integer(last.unix_seconds),
                        Reply::integer(last.latency_ms),
                        Reply::integer(series.max_ms),
                    ]))
                })
                .collect(),
        ),
        (b"history", 3) => Reply::Array(
            monitor
                .series(&argv[2])
                .map(|(_, series)| {
                    series
                        .samples
                        .iter()
                        .map(|s| {
                            Reply::Array(vec![
                                Reply::integer(s.unix_seconds),
                                Reply::integer(s.latency_ms),
                            ])
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        (b"reset", _) => {
            let monitor = &mut ctx.state.latency;
            let resets = if argv.len() == 2 {
                monitor.reset(None)
            } else {
                argv[2..]
                    .iter()
                    .map(|event| monitor.reset(Some(event)))
                    .sum()
            };
            Reply::integer(resets as u64)
        }
        (b"graph", 3) => match monitor.series(&argv[2]) {
            Some((event, series)) => Reply::Verbatim(Bytes::from(graph(event, series))),
            None => Reply::error(format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(&argv[2])
            )),
        },
        (b"doctor", 2) => Reply::Verbatim(Bytes::from(doctor(ctx))),
        (b"histogram", _) => histogram(ctx, &argv[2..]),
        _ => Reply::error(errors::subcommand_syntax(&argv[1], "latency")),
    }
}

/// One command's distribution: `calls` and `histogram_usec` (µs level → samples at or
/// below it).
fn command_cdf(stat: &CommandStat) -> Option<Reply> {
    let histogram = stat.latency.as_ref()?;
    let buckets = histogram
        .cumulative_usec()
        .into_iter()
        .map(|(usec, count)| (Reply::integer(usec), Reply::integer(count)))
        .collect();
    Some(Reply::Map(vec![
        (
            Reply::Bulk(Bytes::from_static(b"calls")),
            Reply::integer(histogram.total()),
        ),
        (
            Reply::Bulk(Bytes::from_static(b"histogram_usec")),
            Reply::Map(buckets),
        ),
    ]))
}

/// LATENCY HISTOGRAM [command …]: every command with samples, or the named ones (a
/// container names all its subcommands; unknown names are skipped).
fn histogram(ctx: &Ctx<'_>, names: &[Bytes]) -> Reply {
    let stats = &ctx.state.stats.commands;
    let mut all: Vec<&CommandStat> = stats.values().filter(|s| s.latency.is_some()).collect();
    all.sort_by_key(|s| s.name);
    let wanted: Vec<&CommandStat> = if names.is_empty() {
        all
    } else {
        let mut wanted = Vec::new();
        for name in names {
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            let known = match name.split_once('|') {
                Some((container, sub)) => subcommands::lookup(container, sub.as_bytes()).is_some(),
                None => lookup(name.as_bytes()).is_some(),
            };
            if !known {
                continue;
            }
            let prefix = format!("{name}|");
            wanted.extend(
                all.iter()
                    .filter(|s| s.name == name || s.name.starts_with(&prefix)),
            );
        }
        wanted
    };
    let mut out = Vec::new();
    for stat in wanted {
        if let Some(cdf) = command_cdf(stat) {
            out.push((Reply::Bulk(Bytes::from_static(stat.name.as_bytes())), cdf));
        }
    }
    Reply::Map(out)
}

/// LATENCY GRAPH: the event's samples as bars, oldest left, labelled with how long ago.
fn graph(event: &str, series: &EventSeries) -> String {
    let now_s = unix_time_ms() / 1000;
    let samples = &series.samples[series.samples.len().saturating_sub(GRAPH_COLUMNS)..];
    let high = samples.iter().map(|s| s.latency_ms).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.latency_ms).min().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        series.max_ms,
        "-".repeat(GRAPH_COLUMNS)
    );
    for row in (1..=GRAPH_ROWS).rev() {
        for sample in samples {
            let filled = high > 0 && sample.latency_ms * GRAPH_ROWS >= row * high;
            out.push(if filled { '#' } else { ' ' });
        }
        out.push('\n');
    }
    for sample in samples {
        let ago = now_s.saturating_sub(sample.unix_seconds);
        let label = match ago {
            0..60 => format!("{ago}s"),
            60..3600 => format!("{}m", ago / 60),
            3600..86_400 => format!("{}h", ago / 3600),
            _ => format!("{}d", ago / 86_400),
        };
        out.push(label.chars().next().unwrap_or(' '));
    }
    out.push('\n');
    out
}

/// LATENCY DOCTOR: what the samples say, in the words of Redis's report.
fn doctor(ctx: &Ctx<'_>) -> String {
    let monitor = &ctx.state.latency;
    let threshold = ctx.state.config.introspection.latency_threshold_ms;
    if threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis \
                instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" \
                in order to enable it. If we weren't in a deep space mission I'd suggest to \
                take a look at https://redis.io/topics/latency-monitor.\n"
            .to_string();
    }
    if monitor.events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis \
                instance, not in the slightest bit. I honestly think you ought to sleep \
                tonight.\n"
            .to_string();
    }
    let mut out = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking \
         about it, do you Dave?\n\n",
    );
    for (i, (event, series)) in monitor.events.iter().enumerate() {
        let count = series.samples.len() as u64;
        let sum: u64 = series.samples.iter().map(|s| s.latency_ms).sum();
        let avg = sum.checked_div(count).unwrap_or(0);
        let first = series.samples.first().map_or(0, |s| s.unix_seconds);
        let _ = writeln!(
            out,
            "{}. {event}: {count} latency spikes (average {avg}ms, mean deviation 0ms, period \
             {} sec). Worst all time event {}ms.",
            i + 1,
            (unix_time_ms() / 1000).saturating_sub(first),
            series.max_ms
        );
    }
    out.push_str(
        "\nI have a few advices for you:\n\n- Check your slow log (SLOWLOG GET) for the \
         commands that ran long, and consider splitting work on big keys.\n",
    );
    out
}
