//! COMMAND: the command table as redis-cli and client libraries read it.

use bytes::Bytes;

use crate::cmd::key_specs;
use crate::cmd::subcommands::{self, Subcommand};
use crate::cmd::table::{CommandSpec, all};
use crate::cmd::{Ctx, errors, flags, lookup};
use crate::resp::Reply;

const FLAG_NAMES: &[(u32, &str)] = &[
    (flags::WRITE, "write"),
    (flags::READONLY, "readonly"),
    (flags::DENYOOM, "denyoom"),
    (flags::ADMIN, "admin"),
    (flags::PUBSUB, "pubsub"),
    (flags::NOSCRIPT, "noscript"),
    (flags::BLOCKING, "blocking"),
    (flags::LOADING, "loading"),
    (flags::STALE, "stale"),
    (flags::SKIP_MONITOR, "skip_monitor"),
    (flags::FAST, "fast"),
    (flags::NO_AUTH, "no_auth"),
    (flags::MAY_REPLICATE, "may_replicate"),
    (flags::NO_MULTI, "no_multi"),
    (flags::ALLOW_BUSY, "allow_busy"),
];

fn flag_names(flag_bits: u32) -> Vec<Reply> {
    FLAG_NAMES
        .iter()
        .filter(|(f, _)| flag_bits & *f != 0)
        .map(|(_, n)| Reply::simple(*n))
        .collect()
}

fn info_of(c: &CommandSpec) -> Reply {
    let mut flag_names = flag_names(c.flags);
    if crate::cmd::key_positions::is_movable(c.name) {
        flag_names.push(Reply::simple("movablekeys"));
    }
    let categories: Vec<Reply> = categories_of(c.flags, c.group)
        .into_iter()
        .map(Reply::simple)
        .collect();
    let subcommands = subcommands::of(c.name)
        .iter()
        .map(|sub| sub_info_of(sub, c.group))
        .collect();
    Reply::Array(vec![
        Reply::bulk_str(c.name),
        Reply::Integer(i64::from(c.arity)),
        Reply::Set(flag_names),
        Reply::Integer(i64::from(c.first_key)),
        Reply::Integer(i64::from(c.last_key)),
        Reply::Integer(i64::from(c.key_step)),
        Reply::Set(categories),
        Reply::Set(Vec::new()),
        key_specs::describe(c.name),
        Reply::Array(subcommands),
    ])
}

/// A subcommand's entry in its container's COMMAND INFO, shaped as a command's.
fn sub_info_of(sub: &Subcommand, group: &str) -> Reply {
    let categories: Vec<Reply> = categories_of(sub.flags, group)
        .into_iter()
        .map(Reply::simple)
        .collect();
    Reply::Array(vec![
        Reply::bulk_str(sub.full_name),
        Reply::Integer(i64::from(sub.arity)),
        Reply::Set(flag_names(sub.flags)),
        Reply::Integer(i64::from(sub.first_key)),
        Reply::Integer(i64::from(sub.last_key)),
        Reply::Integer(i64::from(sub.key_step)),
        Reply::Set(categories),
        Reply::Set(Vec::new()),
        key_specs::describe(sub.full_name),
        Reply::Array(Vec::new()),
    ])
}

/// The ACL categories COMMAND INFO lists for a command with these flags, in this group.
fn categories_of(flag_bits: u32, group: &str) -> Vec<&'static str> {
    let mut categories = Vec::new();
    for (flag, name) in [
        (flags::WRITE, "@write"),
        (flags::READONLY, "@read"),
        (flags::ADMIN, "@admin"),
    ] {
        if flag_bits & flag != 0 {
            categories.push(name);
        }
    }
    categories.extend(acl_category(group));
    categories.push(if flag_bits & flags::FAST != 0 {
        "@fast"
    } else {
        "@slow"
    });
    if flag_bits & flags::BLOCKING != 0 {
        categories.push("@blocking");
    }
    categories
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`: no module
/// is loaded, so that filter lists nothing.
fn list(argv: &[Bytes]) -> Reply {
    // Each command by name, and its subcommands by full name after it, as Redis lists them;
    // `keep` judges (name, flags, group).
    let names = |keep: &dyn Fn(&str, u32, &str) -> bool| {
        let mut out = Vec::new();
        for c in all() {
            if keep(c.name, c.flags, c.group) {
                out.push(Reply::bulk_str(c.name));
            }
            for sub in subcommands::of(c.name) {
                if keep(sub.full_name, sub.flags, c.group) {
                    out.push(Reply::bulk_str(sub.full_name));
                }
            }
        }
        Reply::Array(out)
    };
    match argv {
        [_, _] => names(&|_, _, _| true),
        [_, _, filterby, kind, value] if filterby.eq_ignore_ascii_case(b"FILTERBY") => {
            if kind.eq_ignore_ascii_case(b"MODULE") {
                Reply::Array(Vec::new())
            } else if kind.eq_ignore_ascii_case(b"ACLCAT") {
                let wanted = format!("@{}", String::from_utf8_lossy(value)).to_ascii_lowercase();
                names(&|_, flag_bits, group| {
                    categories_of(flag_bits, group).contains(&wanted.as_str())
                })
            } else if kind.eq_ignore_ascii_case(b"PATTERN") {
                names(&|name, _, _| crate::util::glob::matches(value, name.as_bytes(), true))
            } else {
                Reply::error(errors::SYNTAX)
            }
        }
        _ => Reply::error(errors::SYNTAX),
    }
}

/// The ACL category of a command group (COMMAND DOCS groups and ACL categories differ in
/// spelling).
fn acl_category(group: &str) -> Option<&'static str> {
    Some(match group {
        "string" => "@string",
        "list" => "@list",
        "hash" => "@hash",
        "set" => "@set",
        "sorted-set" => "@sortedset",
        "generic" => "@keyspace",
        "pubsub" => "@pubsub",
        "transactions" => "@transaction",
        "connection" => "@connection",
        _ => return None,
    })
}

fn docs_of(c: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk_str("summary"), Reply::bulk_str("")),
        (Reply::bulk_str("since"), Reply::bulk_str("1.0.0")),
        (Reply::bulk_str("group"), Reply::bulk_str(c.group)),
    ])
}

/// The command COMMAND GETKEYS and GETKEYSANDFLAGS are asked about, with its arguments,
/// or the error they answer when it is unknown or given the wrong number of arguments.
fn command_to_inspect(args: &[Bytes]) -> Result<(&'static CommandSpec, &[Bytes]), Reply> {
    let Some(spec) = lookup(&args[0]) else {
        return Err(Reply::error("ERR Invalid command specified"));
    };
    if !spec.arity_ok(args.len()) {
        return Err(Reply::error(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    Ok((spec, args))
}

pub fn command(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() == 1 {
        return Reply::Array(all().into_iter().map(info_of).collect());
    }
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"count" if argv.len() == 2 => Reply::integer(all().len()),
        b"list" => list(argv),
        b"info" => {
            if argv.len() == 2 {
                return Reply::Array(all().into_iter().map(info_of).collect());
            }
            Reply::Array(
                argv[2..]
                    .iter()
                    .map(|n| lookup(n).map_or(Reply::Nil, info_of))
                    .collect(),
            )
        }
        b"docs" => {
            let specs: Vec<&CommandSpec> = if argv.len() == 2 {
                all()
            } else {
                argv[2..].iter().filter_map(|n| lookup(n)).collect()
            };
            Reply::Map(
                specs
                    .into_iter()
                    .map(|c| (Reply::bulk_str(c.name), docs_of(c)))
                    .collect(),
            )
        }
        b"getkeys" if argv.len() >= 4 => {
            let (spec, args) = match command_to_inspect(&argv[2..]) {
                Ok(found) => found,
                Err(e) => return e,
            };
            let Some(positions) = crate::cmd::key_positions::key_positions(spec, args) else {
                return Reply::error("ERR Invalid arguments specified for command");
            };
            let keys: Vec<Reply> = positions
                .into_iter()
                .map(|i| Reply::Bulk(args[i].clone()))
                .collect();
            if keys.is_empty() {
                return Reply::error("ERR The command has no key arguments");
            }
            Reply::Array(keys)
        }
        b"getkeysandflags" if argv.len() >= 4 => {
            let (spec, args) = match command_to_inspect(&argv[2..]) {
                Ok(found) => found,
                Err(e) => return e,
            };
            match key_specs::keys_and_flags(spec, args) {
                Ok(keys) if !keys.is_empty() => Reply::Array(
                    keys.into_iter()
                        .map(|(at, flags)| {
                            Reply::Array(vec![
                                Reply::Bulk(args[at].clone()),
                                Reply::Set(flags.into_iter().map(Reply::simple).collect()),
                            ])
                        })
                        .collect(),
                ),
                Ok(_) if crate::cmd::key_positions::key_positions(spec, args).is_none() => {
                    Reply::error("ERR Invalid arguments specified for command")
                }
                Ok(_) => Reply::error("ERR The command has no key arguments"),
                Err(key_specs::KeysError::Invalid) => {
                    Reply::error("ERR Invalid arguments specified for command")
                }
            }
        }
        b"help" if argv.len() == 2 => Reply::Array(
            [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        ),
        b"count" | b"getkeys" | b"getkeysandflags" | b"help" => Reply::error(errors::wrong_arity(
            &format!("command|{}", String::from_utf8_lossy(&sub)),
        )),
        _ => Reply::error(errors::unknown_subcommand(&argv[1], "command")),
    }
}
