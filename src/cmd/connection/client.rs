//! CLIENT and its subcommands.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::{Protocol, Reply};
use crate::server::clients::{ClientHandle, Outbound};
use crate::server::pause::{PauseKind, PausePurpose};
use crate::server::session::ReplyMode;
use crate::util::num::parse_i64;

/// CLIENT PAUSE timeout-ms [WRITE|ALL]: clients wait until the time has passed or CLIENT
/// UNPAUSE; a pause that is already on keeps the stricter kind and the later end.
fn pause(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let kind = match argv.get(3).map(|mode| mode.to_ascii_lowercase()) {
        None => PauseKind::All,
        Some(mode) if mode == b"write" => PauseKind::Write,
        Some(mode) if mode == b"all" => PauseKind::All,
        Some(_) => return Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let Some(timeout_ms) = parse_i64(&argv[2]) else {
        return Reply::error("ERR timeout is not an integer or out of range");
    };
    let Ok(timeout_ms) = u64::try_from(timeout_ms) else {
        return Reply::error("ERR timeout is negative");
    };
    // As in Redis, 0 means a pause that has already ended.
    let end_ms = if timeout_ms == 0 {
        0
    } else {
        ctx.now_ms.saturating_add(timeout_ms)
    };
    ctx.state
        .pauses
        .pause(PausePurpose::ClientCommand, kind, end_ms);
    Reply::ok()
}

/// Redis accepts names of printable ASCII without spaces.
pub fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn client(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    let arity_error = || {
        Reply::error(errors::wrong_arity(&format!(
            "client|{}",
            String::from_utf8_lossy(&sub)
        )))
    };
    crate::server::clients::sync_session(ctx.state, ctx.session, "client");
    match (sub.as_slice(), argv.len()) {
        (b"id", 2) => Reply::integer(ctx.session.id),
        (b"getname", 2) => ctx.session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        (b"setname", 3) => {
            if !valid_client_name(&argv[2]) {
                return Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            ctx.session.name = if argv[2].is_empty() {
                None
            } else {
                Some(argv[2].clone())
            };
            Reply::ok()
        }
        (b"info", 2) => {
            let line = ctx
                .state
                .clients
                .get(ctx.session.id)
                .map(|c| describe(c, ctx.now_ms, own_request(ctx, argv)))
                .unwrap_or_default();
            Reply::Verbatim(Bytes::from(format!("{line}\n")))
        }
        (b"list", _) => list(ctx, argv),
        (b"pause", 3 | 4) => pause(ctx, argv),
        (b"unpause", 2) => {
            ctx.state.pauses.unpause(PausePurpose::ClientCommand);
            Reply::ok()
        }
        (b"kill", n) if n >= 3 => kill(ctx, &argv[2..]),
        (b"reply", 3) => match argv[2].to_ascii_lowercase().as_slice() {
            b"on" => {
                ctx.session.reply_mode = ReplyMode::On;
                Reply::ok()
            }
            b"off" => {
                ctx.session.reply_mode = ReplyMode::Off;
                Reply::ok()
            }
            b"skip" => {
                if ctx.session.reply_mode == ReplyMode::On {
                    ctx.session.reply_mode = ReplyMode::SkipNext;
                }
                Reply::ok()
            }
            _ => Reply::error(errors::SYNTAX),
        },
        (b"no-evict", 3) => match argv[2].to_ascii_lowercase().as_slice() {
            b"on" => {
                ctx.session.no_evict = true;
                Reply::ok()
            }
            b"off" => {
                ctx.session.no_evict = false;
                Reply::ok()
            }
            _ => Reply::error(errors::SYNTAX),
        },
        (b"setinfo", 4) => {
            let value = argv[3].clone();
            if !value.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
                return Reply::error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&argv[2]).to_ascii_lowercase()
                ));
            }
            match argv[2].to_ascii_lowercase().as_slice() {
                b"lib-name" => ctx.session.lib_name = Some(value),
                b"lib-ver" => ctx.session.lib_ver = Some(value),
                _ => {
                    return Reply::error(format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(&argv[2])
                    ));
                }
            }
            Reply::ok()
        }
        (b"unblock", 3 | 4) => unblock(ctx, argv),
        (b"tracking", n) if n >= 3 => super::tracking::tracking(ctx, argv),
        (b"caching", n) if n >= 3 => super::tracking::caching(ctx, argv),
        (b"getredir", 2) => super::tracking::getredir(ctx),
        (b"trackinginfo", 2) => super::tracking::trackinginfo(ctx),
        (b"help", 2) => help(),
        (
            b"id" | b"getname" | b"setname" | b"info" | b"reply" | b"no-evict" | b"setinfo"
            | b"unblock" | b"help" | b"kill" | b"tracking" | b"caching" | b"getredir"
            | b"trackinginfo",
            _,
        ) => arity_error(),
        _ => Reply::error(errors::unknown_subcommand(&argv[1], "client")),
    }
}

fn help() -> Reply {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Print this help.",
    ];
    Reply::Array(lines.iter().map(|l| Reply::simple(*l)).collect())
}

/// The type a client has for CLIENT LIST TYPE / CLIENT KILL TYPE.
fn client_type(c: &ClientHandle) -> &'static str {
    if c.flags.contains('M') {
        "master"
    } else if c.flags.contains('S') {
        "replica"
    } else if c.subscriptions + c.patterns > 0 {
        "pubsub"
    } else {
        "normal"
    }
}

fn parse_type(name: &[u8]) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_slice() {
        b"normal" => Some("normal"),
        b"master" => Some("master"),
        b"replica" | b"slave" => Some("replica"),
        b"pubsub" => Some("pubsub"),
        _ => None,
    }
}

/// One CLIENT LIST line, with Redis 7.0's fields.
/// What the client being described holds of a request: `qbuf` (bytes of it in the query
/// buffer) and `argv-mem` (bytes of its arguments).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestMemory {
    pub query_bytes: usize,
    pub argv_bytes: usize,
}

/// The calling client's own request, which is in its buffers while CLIENT LIST runs.
fn own_request(ctx: &Ctx<'_>, argv: &[Bytes]) -> RequestMemory {
    RequestMemory {
        query_bytes: ctx.state.request_frame.as_ref().map_or(0, |f| f.len()),
        argv_bytes: argv.iter().map(|a| a.len()).sum(),
    }
}

pub fn describe(c: &ClientHandle, now_ms: u64, request: RequestMemory) -> String {
    let name = c
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let lib_name = c
        .lib_name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let lib_ver = c
        .lib_ver
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf={} qbuf-free=0 argv-mem={} multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r \
         cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        name,
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(c.last_active_ms) / 1000,
        if c.flags.is_empty() { "N" } else { &c.flags },
        c.db,
        c.subscriptions,
        c.patterns,
        c.shard_subscriptions,
        c.multi_len,
        request.query_bytes,
        request.argv_bytes,
        c.queued(),
        match &c.last_subcommand {
            Some(sub) => format!("{}|{}", c.last_cmd, String::from_utf8_lossy(sub)),
            None => c.last_cmd.to_string(),
        },
        if c.protocol == Protocol::Resp3 { 3 } else { 2 },
        lib_name,
        lib_ver,
    )
}

fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let options = &argv[2..];
    let mut wanted_type: Option<&'static str> = None;
    let mut wanted_ids: Option<Vec<u64>> = None;
    match options {
        [] => {}
        [opt, kind] if opt.eq_ignore_ascii_case(b"type") => match parse_type(kind) {
            Some(t) => wanted_type = Some(t),
            None => {
                return Reply::error(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(kind)
                ));
            }
        },
        [opt, ids @ ..] if opt.eq_ignore_ascii_case(b"id") && !ids.is_empty() => {
            let mut parsed = Vec::new();
            for id in ids {
                // Any integer is accepted; ids that cannot exist simply match nobody.
                match parse_i64(id) {
                    Some(v) if v > 0 => parsed.push(v as u64),
                    Some(_) => {}
                    None => return Reply::error("ERR Invalid client ID"),
                }
            }
            wanted_ids = Some(parsed);
        }
        _ => return Reply::error(errors::SYNTAX),
    }
    let mut text = String::new();
    for c in ctx.state.clients.by_id.values() {
        if wanted_type.is_some_and(|t| client_type(c) != t) {
            continue;
        }
        if wanted_ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        let request = if c.id == ctx.session.id {
            own_request(ctx, argv)
        } else {
            // Between batches a client has parsed all it sent and holds no arguments.
            RequestMemory::default()
        };
        text.push_str(&describe(c, ctx.now_ms, request));
        text.push('\n');
    }
    Reply::Verbatim(Bytes::from(text))
}

fn kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // Old form: CLIENT KILL ip:port.
    if args.len() == 1 {
        let addr = String::from_utf8_lossy(&args[0]).into_owned();
        let Some(id) = ctx
            .state
            .clients
            .by_id
            .values()
            .find(|c| c.addr == addr)
            .map(|c| c.id)
        else {
            return Reply::error("ERR No such client");
        };
        kill_one(ctx, id);
        return Reply::ok();
    }
    if !args.len().is_multiple_of(2) {
        return Reply::error(errors::SYNTAX);
    }
    let mut id: Option<u64> = None;
    let mut kind: Option<&'static str> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut user: Option<Bytes> = None;
    let mut skip_me = true;
    let mut max_age: Option<u64> = None;
    for pair in args.chunks(2) {
        let value = &pair[1];
        match pair[0].to_ascii_lowercase().as_slice() {
            b"id" => match parse_i64(value) {
                Some(v) if v > 0 => id = Some(v as u64),
                _ => return Reply::error("ERR client-id should be greater than 0"),
            },
            b"type" => match parse_type(value) {
                Some(t) => kind = Some(t),
                None => {
                    return Reply::error(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(value)
                    ));
                }
            },
            b"addr" => addr = Some(String::from_utf8_lossy(value).into_owned()),
            b"laddr" => laddr = Some(String::from_utf8_lossy(value).into_owned()),
            b"user" => user = Some(value.clone()),
            b"skipme" => match value.to_ascii_lowercase().as_slice() {
                b"yes" => skip_me = true,
                b"no" => skip_me = false,
                _ => return Reply::error(errors::SYNTAX),
            },
            b"maxage" => match parse_i64(value) {
                Some(v) if v >= 0 => max_age = Some(v as u64),
                _ => return Reply::error(errors::SYNTAX),
            },
            _ => return Reply::error(errors::SYNTAX),
        }
    }
    if user.as_ref().is_some_and(|u| u.as_ref() != b"default") {
        return Reply::error(format!(
            "ERR No such user '{}'",
            String::from_utf8_lossy(user.as_deref().unwrap_or_default())
        ));
    }
    let me = ctx.session.id;
    let now_ms = ctx.now_ms;
    let victims: Vec<u64> = ctx
        .state
        .clients
        .by_id
        .values()
        .filter(|c| id.is_none_or(|i| c.id == i))
        .filter(|c| kind.is_none_or(|k| client_type(c) == k))
        .filter(|c| addr.as_ref().is_none_or(|a| &c.addr == a))
        .filter(|c| laddr.as_ref().is_none_or(|a| &c.laddr == a))
        .filter(|c| max_age.is_none_or(|age| now_ms.saturating_sub(c.created_ms) / 1000 >= age))
        .filter(|c| !(skip_me && c.id == me))
        .map(|c| c.id)
        .collect();
    for victim in &victims {
        kill_one(ctx, *victim);
    }
    Reply::integer(victims.len())
}

fn kill_one(ctx: &mut Ctx<'_>, id: u64) {
    if id == ctx.session.id {
        ctx.session.close_after_reply = true;
    } else {
        ctx.state.clients.kill(id, "killed by CLIENT KILL");
    }
}

fn unblock(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(id) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    let error = match argv.get(3).map(|a| a.to_ascii_lowercase()) {
        None => None,
        Some(mode) if mode == b"timeout" => None,
        Some(mode) if mode == b"error" => {
            Some("UNBLOCKED client unblocked via CLIENT UNBLOCK".to_string())
        }
        Some(_) => return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let id = id as u64;
    match ctx.state.blocking.unblock(id) {
        Some(blocked) => {
            let reply = match error {
                Some(text) => Reply::error(text),
                None => blocked.request.timeout_reply,
            };
            if let Some(client) = ctx.state.clients.get(id) {
                client.send(Outbound::Unblocked(reply), 0);
            }
            Reply::Integer(1)
        }
        None => Reply::Integer(0),
    }
}
