//! Differential tests: every `tests/scripts/*.redis` file runs against sluice and a real
//! redis-server, one connection each, and every reply must be byte-identical.
//!
//! Script format: one command per line with redis-cli quoting; blank lines and lines starting
//! with `#` are ignored. A directive on its own line applies to the next command:
//! - `@unordered`: elements of every array, set, push and map in the reply (at any depth)
//!   are compared as multisets (map entries as key/value pairs); so are the replies of a
//!   command that answers several times;
//! - `@shape`: only the type of the reply and its element count are compared (errors are
//!   still compared in full).
//!
//! `HELLO` replies are compared with their `id` and `version` values masked. Commands that
//! answer several times ((P|S)(UN)SUBSCRIBE, PUBLISH to a RESP3 connection subscribed to
//! its own channel) are read as often as they answer; CLIENT REPLY OFF/SKIP is honoured.
//!
//! `SLUICE_SCRIPTS=string,keys cargo test --test differential` runs only the named scripts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use common::{Client, Resp, ServerProcess, escape, parse_reply, redis_available};

/// Mismatches reported per script before the rest of it is skipped.
const FAILURES_PER_SCRIPT_MAX: usize = 30;
/// Scripts run at the same time (each one starts two servers).
const PARALLEL_SCRIPTS: usize = 3;
/// How long to watch for replies that should not come (after CLIENT REPLY OFF, at the end).
const QUIET_WAIT: Duration = Duration::from_millis(100);
const SHOWN_REPLY_CHARS_MAX: usize = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Exact,
    Unordered,
    Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyMode {
    On,
    Off,
    SkipNext,
}

/// What one connection is subscribed to and whether it is inside MULTI, tracked from its own
/// replies so that the harness knows how many replies the next command produces.
struct Side {
    name: &'static str,
    client: Client,
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
    shard_channels: BTreeSet<Vec<u8>>,
    in_multi: bool,
    resp3: bool,
    reply_mode: ReplyMode,
}

impl Side {
    fn new(name: &'static str, client: Client) -> Side {
        Side {
            name,
            client,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            shard_channels: BTreeSet::new(),
            in_multi: false,
            resp3: false,
            reply_mode: ReplyMode::On,
        }
    }

    /// How many replies `args` will produce on this connection.
    fn expected_replies(&self, args: &[Vec<u8>]) -> usize {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let is_client_reply = name == "client"
            && args
                .get(1)
                .is_some_and(|a| a.eq_ignore_ascii_case(b"reply"))
            && args.len() == 3;
        if is_client_reply && !self.in_multi {
            let mode = args[2].to_ascii_lowercase();
            if mode == b"off" || mode == b"skip" {
                return 0;
            }
            if mode == b"on" {
                return 1;
            }
        }
        if self.reply_mode != ReplyMode::On {
            return 0;
        }
        if self.in_multi
            && !matches!(
                name.as_str(),
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            return 1;
        }
        let arguments = args.len() - 1;
        match name.as_str() {
            "subscribe" | "psubscribe" | "ssubscribe" => arguments.max(1),
            "unsubscribe" | "punsubscribe" | "sunsubscribe" if arguments > 0 => arguments,
            "unsubscribe" => self.channels.len().max(1),
            "punsubscribe" => self.patterns.len().max(1),
            "sunsubscribe" => self.shard_channels.len().max(1),
            "publish" if self.resp3 && args.len() == 3 => 1 + self.own_deliveries(&args[1]),
            "spublish" if self.resp3 && args.len() == 3 => {
                1 + usize::from(self.shard_channels.contains(&args[1]))
            }
            _ => 1,
        }
    }

    /// Messages a PUBLISH to `channel` pushes to this very connection (RESP3 only).
    fn own_deliveries(&self, channel: &[u8]) -> usize {
        usize::from(self.channels.contains(channel))
            + self
                .patterns
                .iter()
                .filter(|p| sluice::util::glob::matches(p, channel, false))
                .count()
    }

    /// Updates the tracked state from a command and the replies it got.
    fn observe(&mut self, args: &[Vec<u8>], replies: &[Vec<u8>]) {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let first = replies
            .first()
            .and_then(|raw| parse_reply(raw).ok().flatten())
            .map(|(v, _)| v);
        let ok = matches!(&first, Some(Resp::Simple(s)) if s == b"OK");
        let is_client_reply = name == "client"
            && args
                .get(1)
                .is_some_and(|a| a.eq_ignore_ascii_case(b"reply"))
            && args.len() == 3;
        if is_client_reply && !self.in_multi {
            let mode = args[2].to_ascii_lowercase();
            if mode == b"off" {
                self.reply_mode = ReplyMode::Off;
                return;
            }
            if mode == b"skip" {
                if self.reply_mode == ReplyMode::On {
                    self.reply_mode = ReplyMode::SkipNext;
                }
                return;
            }
            if mode == b"on" {
                self.reply_mode = ReplyMode::On;
                return;
            }
        }
        match self.reply_mode {
            ReplyMode::Off => return,
            ReplyMode::SkipNext => {
                self.reply_mode = ReplyMode::On;
                return;
            }
            ReplyMode::On => {}
        }
        match name.as_str() {
            "multi" if ok => self.in_multi = true,
            "exec" | "discard" => {
                let without_multi =
                    matches!(&first, Some(Resp::Error(e)) if e.ends_with(b"without MULTI"));
                if !without_multi {
                    self.in_multi = false;
                }
            }
            "reset" => {
                self.in_multi = false;
                self.resp3 = false;
                self.channels.clear();
                self.patterns.clear();
                self.shard_channels.clear();
            }
            "hello" => {
                if let (Some(Resp::Map(_) | Resp::Array(_)), Some(version)) = (&first, args.get(1))
                {
                    self.resp3 = version.as_slice() == b"3";
                }
            }
            _ => {}
        }
        if self.in_multi {
            return;
        }
        for raw in replies {
            let Ok(Some((reply, _))) = parse_reply(raw) else {
                continue;
            };
            match reply {
                // Subscriptions made inside a transaction answer inside EXEC's array.
                Resp::Array(items) if name == "exec" => {
                    for item in &items {
                        self.track_subscription(item);
                    }
                }
                other => self.track_subscription(&other),
            }
        }
    }

    /// Follows one `[subscribe, channel, count]`-like reply.
    fn track_subscription(&mut self, reply: &Resp) {
        let (Resp::Push(items) | Resp::Array(items)) = reply else {
            return;
        };
        let (Some(Resp::Bulk(kind)), Some(Resp::Bulk(target))) = (items.first(), items.get(1))
        else {
            return;
        };
        let target = target.clone();
        match kind.as_slice() {
            b"subscribe" => {
                self.channels.insert(target);
            }
            b"unsubscribe" => {
                self.channels.remove(&target);
            }
            b"psubscribe" => {
                self.patterns.insert(target);
            }
            b"punsubscribe" => {
                self.patterns.remove(&target);
            }
            b"ssubscribe" => {
                self.shard_channels.insert(target);
            }
            b"sunsubscribe" => {
                self.shard_channels.remove(&target);
            }
            _ => {}
        }
    }

    /// Sends a command and reads every reply it produces.
    fn run(&mut self, args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        let expected = self.expected_replies(args);
        self.client
            .send(args)
            .map_err(|e| format!("{}: sending: {e}", self.name))?;
        let mut replies = Vec::with_capacity(expected);
        for _ in 0..expected {
            let raw = self
                .client
                .read_raw()
                .map_err(|e| format!("{}: reading reply {}: {e}", self.name, replies.len() + 1))?;
            let is_error = raw.first() == Some(&b'-');
            replies.push(raw);
            // An error (wrong arity, not allowed in this context) is the only answer.
            if is_error {
                break;
            }
        }
        if expected == 0 {
            let extra = self.client.drain(QUIET_WAIT);
            if !extra.is_empty() {
                replies.push(extra);
            }
        }
        self.observe(args, &replies);
        Ok(replies)
    }
}

/// Replaces HELLO's `id` and `version` values, which legitimately differ.
fn mask_hello(reply: Resp) -> Resp {
    let masked = |k: &Resp| matches!(k, Resp::Bulk(name) if name == b"id" || name == b"version");
    match reply {
        Resp::Map(pairs) => Resp::Map(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    if masked(&k) {
                        (k, Resp::bulk("<masked>"))
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        Resp::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut mask_next = false;
            for (i, item) in items.into_iter().enumerate() {
                if mask_next {
                    out.push(Resp::bulk("<masked>"));
                    mask_next = false;
                    continue;
                }
                mask_next = i % 2 == 0 && masked(&item);
                out.push(item);
            }
            Resp::Array(out)
        }
        other => other,
    }
}

/// Sorts the elements of every aggregate, recursively, so equal multisets compare equal.
fn sort_deep(reply: Resp) -> Resp {
    let sorted = |items: Vec<Resp>| {
        let mut items: Vec<Resp> = items.into_iter().map(sort_deep).collect();
        items.sort();
        items
    };
    match reply {
        Resp::Array(items) => Resp::Array(sorted(items)),
        Resp::Set(items) => Resp::Set(sorted(items)),
        Resp::Push(items) => Resp::Push(sorted(items)),
        Resp::Map(pairs) => {
            let mut pairs: Vec<(Resp, Resp)> = pairs
                .into_iter()
                .map(|(k, v)| (sort_deep(k), sort_deep(v)))
                .collect();
            pairs.sort();
            Resp::Map(pairs)
        }
        Resp::Attribute(pairs, inner) => Resp::Attribute(pairs, Box::new(sort_deep(*inner))),
        other => other,
    }
}

fn shape(reply: &Resp) -> Vec<u8> {
    if reply.is_error() {
        return reply.encode();
    }
    match reply.len() {
        Some(n) => format!("{}{n}", reply.type_marker()).into_bytes(),
        None => reply.type_marker().as_bytes().to_vec(),
    }
}

/// The bytes that are compared for one reply under `mode`.
fn normalize(raw: &[u8], mode: Compare, is_hello: bool) -> Vec<u8> {
    if mode == Compare::Exact && !is_hello {
        return raw.to_vec();
    }
    let Ok(Some((mut reply, used))) = parse_reply(raw) else {
        return raw.to_vec();
    };
    if used != raw.len() {
        // Unexpected trailing bytes: compare them as they are.
        return raw.to_vec();
    }
    if is_hello {
        reply = mask_hello(reply);
    }
    match mode {
        Compare::Exact => reply.encode(),
        Compare::Unordered => sort_deep(reply).encode(),
        Compare::Shape => shape(&reply),
    }
}

fn show(replies: &[Vec<u8>]) -> String {
    if replies.is_empty() {
        return "(no reply)".to_string();
    }
    let mut text = replies
        .iter()
        .map(|r| format!("\"{}\"", escape(r)))
        .collect::<Vec<_>>()
        .join(" + ");
    if text.len() > SHOWN_REPLY_CHARS_MAX {
        let mut cut = SHOWN_REPLY_CHARS_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...(truncated)");
    }
    text
}

/// Result of one script: how many commands ran, and the mismatches found.
struct ScriptReport {
    name: String,
    commands: usize,
    failures: Vec<String>,
}

/// The server a script's replies are compared with.
#[derive(Clone, Copy)]
enum Reference<'a> {
    /// Debian's redis-server 7.0.15.
    Redis70,
    /// An anchor binary (Redis 8.6.3), for the commands newer releases added.
    Anchor(&'a Path),
}

fn run_script(path: &Path, reference: Reference<'_>) -> ScriptReport {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut report = ScriptReport {
        name: name.clone(),
        commands: 0,
        failures: Vec::new(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report.failures.push(format!("{name}: cannot read: {e}"));
            return report;
        }
    };
    let sluice = ServerProcess::sluice(&[]);
    // sluice always has DEBUG; the reference server needs it enabled.
    let redis = match reference {
        Reference::Redis70 => ServerProcess::redis(&["--enable-debug-command", "yes"]),
        Reference::Anchor(program) => {
            ServerProcess::anchor(program, &["--enable-debug-command", "yes"])
        }
    };
    let mut sides = [
        Side::new("sluice", sluice.client()),
        Side::new("redis", redis.client()),
    ];
    for side in &mut sides {
        if let Err(e) = side.run(&[b"FLUSHALL".to_vec()]) {
            report.failures.push(format!("{name}: FLUSHALL: {e}"));
            return report;
        }
    }
    let mut mode = Compare::Exact;
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if report.failures.len() >= FAILURES_PER_SCRIPT_MAX {
            report.failures.push(format!(
                "{name}: too many mismatches, rest of the script skipped"
            ));
            break;
        }
        if let Some(directive) = line.strip_prefix('@') {
            mode = match directive.trim() {
                "unordered" => Compare::Unordered,
                "shape" => Compare::Shape,
                other => {
                    report
                        .failures
                        .push(format!("{name}:{line_no}: unknown directive @{other}"));
                    Compare::Exact
                }
            };
            continue;
        }
        let line_mode = std::mem::replace(&mut mode, Compare::Exact);
        let Some(args) = sluice::resp::parse::split_args(line.as_bytes()) else {
            report
                .failures
                .push(format!("{name}:{line_no}: unbalanced quotes in `{line}`"));
            continue;
        };
        if args.is_empty() {
            continue;
        }
        report.commands += 1;
        let is_hello = args[0].eq_ignore_ascii_case(b"hello");
        let mut results = Vec::with_capacity(2);
        for side in &mut sides {
            results.push(side.run(&args));
        }
        let (ours, theirs) = match (&results[0], &results[1]) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                let describe = |r: &Result<Vec<Vec<u8>>, String>| match r {
                    Ok(replies) => show(replies),
                    Err(e) => format!("I/O error: {e}"),
                };
                let log = sluice.log_text();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                report.failures.push(format!(
                    "{name}:{line_no}: `{line}`\n    sluice: {}\n    redis:  {}\n    (connection unusable, rest of the script skipped)\n    sluice log tail:\n      {}",
                    describe(a),
                    describe(b),
                    tail.join("\n      ")
                ));
                return report;
            }
        };
        let normalized = |replies: &[Vec<u8>]| {
            let mut out: Vec<Vec<u8>> = replies
                .iter()
                .map(|r| normalize(r, line_mode, is_hello))
                .collect();
            if line_mode == Compare::Unordered {
                out.sort();
            }
            out
        };
        let same = normalized(ours) == normalized(theirs);
        if !same {
            let note = match line_mode {
                Compare::Exact => "",
                Compare::Unordered => " (@unordered)",
                Compare::Shape => " (@shape)",
            };
            report.failures.push(format!(
                "{name}:{line_no}: `{line}`{note}\n    sluice: {}\n    redis:  {}",
                show(ours),
                show(theirs)
            ));
        }
    }
    // Anything still arriving is a reply nobody asked for.
    let leftovers: Vec<Vec<u8>> = sides
        .iter_mut()
        .map(|s| s.client.drain(QUIET_WAIT))
        .collect();
    if leftovers[0] != leftovers[1] {
        report.failures.push(format!(
            "{name}: end of script: unread output differs\n    sluice: \"{}\"\n    redis:  \"{}\"",
            escape(&leftovers[0]),
            escape(&leftovers[1])
        ));
    }
    drop(sluice);
    drop(redis);
    report
}

/// The scripts in `tests/scripts/<sub>` (`""` for the top directory).
fn script_paths(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("scripts")
        .join(sub);
    let wanted: Option<Vec<String>> = std::env::var("SLUICE_SCRIPTS").ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().trim_end_matches(".redis").to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "redis"))
        .filter(|p| {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            wanted.as_ref().is_none_or(|w| w.contains(&stem))
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn scripts_match_redis() {
    if !redis_available("differential scripts") {
        return;
    }
    run_scripts(&script_paths(""), Reference::Redis70);
}

/// `tests/scripts/redis86/*.redis`: commands of Redis 8.2 to 8.6, against the Redis 8.6.3
/// anchor (skipped, with a notice, where it is absent).
#[test]
fn newer_scripts_match_redis_8_6() {
    let Some(program) = common::anchor(common::Anchor::Redis86, "newer_scripts_match_redis_8_6")
    else {
        return;
    };
    run_scripts(&script_paths("redis86"), Reference::Anchor(&program));
}

fn run_scripts(paths: &[PathBuf], reference: Reference<'_>) {
    assert!(
        !paths.is_empty(),
        "no tests/scripts/*.redis file found (SLUICE_SCRIPTS={:?})",
        std::env::var("SLUICE_SCRIPTS").ok()
    );
    let queue = Mutex::new(paths.to_vec());
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_SCRIPTS.min(paths.len()) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                    let Some(path) = next else {
                        break;
                    };
                    let report =
                        std::panic::catch_unwind(AssertUnwindSafe(|| run_script(&path, reference)))
                            .unwrap_or_else(|panic| {
                                let message = panic
                                    .downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_else(|| "panic".to_string());
                                ScriptReport {
                                    name: path.display().to_string(),
                                    commands: 0,
                                    failures: vec![format!(
                                        "{}: harness panicked: {message}",
                                        path.display()
                                    )],
                                }
                            });
                    if let Ok(mut reports) = reports.lock() {
                        reports.push(report);
                    }
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap_or_default();
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    let mut failures = Vec::new();
    for report in &reports {
        let status = if report.failures.is_empty() {
            "ok".to_string()
        } else {
            format!("{} FAILED", report.failures.len())
        };
        eprintln!(
            "{:<24} {:>5} commands  {status}",
            report.name, report.commands
        );
        failures.extend(report.failures.iter().cloned());
    }
    assert!(
        failures.is_empty(),
        "{} differential mismatch(es):\n\n{}\n",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn normalisation_helpers() {
    let unordered = |raw: &[u8]| normalize(raw, Compare::Unordered, false);
    assert_eq!(
        unordered(b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"),
        unordered(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n")
    );
    assert_ne!(
        unordered(b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n"),
        unordered(b"%2\r\n$1\r\na\r\n:2\r\n$1\r\nb\r\n:1\r\n")
    );
    assert_eq!(
        unordered(b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n"),
        unordered(b"%2\r\n$1\r\nb\r\n:2\r\n$1\r\na\r\n:1\r\n")
    );
    let shape_of = |raw: &[u8]| normalize(raw, Compare::Shape, false);
    assert_eq!(
        shape_of(b"*1\r\n$1\r\nx\r\n"),
        shape_of(b"*1\r\n$3\r\nyyy\r\n")
    );
    assert_ne!(
        shape_of(b"*1\r\n$1\r\nx\r\n"),
        shape_of(b"*2\r\n$1\r\nx\r\n$1\r\nx\r\n")
    );
    let hello = |raw: &[u8]| normalize(raw, Compare::Exact, true);
    assert_eq!(
        hello(b"*4\r\n$2\r\nid\r\n:5\r\n$7\r\nversion\r\n$5\r\n7.0.1\r\n"),
        hello(b"*4\r\n$2\r\nid\r\n:9\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n")
    );
    assert_ne!(
        hello(b"%1\r\n$5\r\nproto\r\n:2\r\n"),
        hello(b"%1\r\n$5\r\nproto\r\n:3\r\n")
    );
}
