//! CONFIG GET/SET/RESETSTAT/REWRITE.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::config::Origin;
use crate::resp::Reply;

pub fn config(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"get" if argv.len() >= 3 => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for pattern in &argv[2..] {
                // A plain name is answered under the spelling it was asked with, as Redis does.
                let is_glob = pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
                let found = ctx.state.config.matching(pattern);
                let found: Vec<(String, String)> = if is_glob {
                    found
                } else {
                    let given = String::from_utf8_lossy(pattern).into_owned();
                    found
                        .into_iter()
                        .take(1)
                        .map(|(_, v)| (given.clone(), v))
                        .collect()
                };
                for (name, value) in found {
                    if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                        pairs.push((name, value));
                    }
                }
            }
            Reply::Map(
                pairs
                    .into_iter()
                    .map(|(n, v)| (Reply::bulk(Bytes::from(n)), Reply::bulk(Bytes::from(v))))
                    .collect(),
            )
        }
        b"set" if argv.len() >= 4 && argv.len().is_multiple_of(2) => set(ctx, &argv[2..]),
        b"set" if argv.len() >= 4 => Reply::error(errors::SYNTAX),
        b"resetstat" if argv.len() == 2 => {
            ctx.state.stats.reset();
            Reply::ok()
        }
        b"rewrite" if argv.len() == 2 => match ctx.state.config.rewrite() {
            Ok(()) => {
                tracing::info!("CONFIG REWRITE executed with success.");
                Reply::ok()
            }
            Err(reason) => Reply::error(format!("ERR {reason}")),
        },
        b"help" if argv.len() == 2 => Reply::Array(
            [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        ),
        b"get" | b"set" | b"resetstat" | b"rewrite" | b"help" => Reply::error(errors::wrong_arity(
            &format!("config|{}", String::from_utf8_lossy(&sub)),
        )),
        _ => Reply::error(errors::unknown_subcommand(&argv[1], "config")),
    }
}

fn set(ctx: &mut Ctx<'_>, pairs: &[Bytes]) -> Reply {
    // All or nothing, as in Redis 7: validate on a copy, then swap it in.
    let mut candidate = ctx.state.config.clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        if seen.contains(&name) {
            return Reply::error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            ));
        }
        seen.push(name.clone());
        let words: Vec<String> = match name.as_str() {
            // Multi-word directives take their value as one argument, split on spaces.
            "save" | "client-output-buffer-limit" | "bind" => value
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>(),
            _ => vec![value],
        };
        let words = if words.is_empty() {
            vec![String::new()]
        } else {
            words
        };
        if let Err(e) = candidate.set(&name, &words, Origin::Runtime) {
            return Reply::error(match e {
                crate::config::ConfigError::UnknownDirective(_) => {
                    format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
                }
                other => format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {other}"
                ),
            });
        }
    }
    let loglevel_changed = candidate.loglevel != ctx.state.config.loglevel;
    // The first time a directive without effect is set, the log says so and why.
    for name in &candidate.ignored[ctx.state.config.ignored.len().min(candidate.ignored.len())..] {
        tracing::info!(
            "CONFIG SET {name}: accepted, but it has no effect in sluice: {}",
            crate::config::no_effect_reason(name).unwrap_or("not used by sluice")
        );
    }
    ctx.state.config = candidate;
    let backlog = ctx.state.config.repl_backlog_size;
    ctx.state.repl.log.set_backlog_bytes_max(backlog);
    ctx.state.repl.hot_bytes_max = ctx.state.config.repl_log_hot_size;
    if let Some(durable) = &ctx.state.repl.durable {
        durable.set_fsync(ctx.state.config.repl_log_fsync);
    }
    if loglevel_changed {
        crate::logging::set_level(&ctx.state.config.loglevel);
    }
    Reply::ok()
}
