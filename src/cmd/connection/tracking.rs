//! CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO: the options of
//! client-side caching, checked in Redis 7.0's order with its error texts. The bookkeeping
//! is `server::tracking`.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::server::tracking::ClientTracking;
use crate::util::num::parse_i64;

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
pub fn tracking(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut options = ClientTracking::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let arg = &argv[j];
        if arg.eq_ignore_ascii_case(b"REDIRECT") && more {
            j += 1;
            if options.redirect != 0 {
                return Reply::error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = parse_i64(&argv[j]) else {
                return Reply::error(errors::NOT_INTEGER);
            };
            let id = u64::try_from(id).unwrap_or(0);
            if id == 0 || ctx.state.clients.get(id).is_none() {
                return Reply::error("ERR The client ID you want redirect to does not exist");
            }
            options.redirect = id;
        } else if arg.eq_ignore_ascii_case(b"BCAST") {
            options.bcast = true;
        } else if arg.eq_ignore_ascii_case(b"OPTIN") {
            options.optin = true;
        } else if arg.eq_ignore_ascii_case(b"OPTOUT") {
            options.optout = true;
        } else if arg.eq_ignore_ascii_case(b"NOLOOP") {
            options.noloop = true;
        } else if arg.eq_ignore_ascii_case(b"PREFIX") && more {
            j += 1;
            prefixes.push(argv[j].clone());
        } else {
            return Reply::error(errors::SYNTAX);
        }
        j += 1;
    }
    let id = ctx.session.id;
    if argv[2].eq_ignore_ascii_case(b"ON") {
        if !options.bcast && !prefixes.is_empty() {
            return Reply::error("ERR PREFIX option requires BCAST mode to be enabled");
        }
        let current = ctx.state.tracking.of(id).cloned();
        if current.as_ref().is_some_and(|c| c.bcast != options.bcast) {
            return Reply::error(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            );
        }
        if options.bcast && (options.optin || options.optout) {
            return Reply::error("ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if options.optin && options.optout {
            return Reply::error("ERR You can't specify both OPTIN mode and OPTOUT mode");
        }
        if current
            .as_ref()
            .is_some_and(|c| (options.optin && c.optout) || (options.optout && c.optin))
        {
            return Reply::error(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
            );
        }
        if options.bcast
            && let Some(error) = ctx.state.tracking.prefix_collision(id, &prefixes)
        {
            return Reply::error(error);
        }
        ctx.state.tracking.enable(id, options, &prefixes);
    } else if argv[2].eq_ignore_ascii_case(b"OFF") {
        ctx.state.tracking.disable(id);
    } else {
        return Reply::error(errors::SYNTAX);
    }
    Reply::ok()
}

/// `CLIENT CACHING YES|NO`: the next command is cached (OPTIN) or not (OPTOUT).
pub fn caching(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let Some(state) = ctx.state.tracking.of_mut(ctx.session.id) else {
        return Reply::error(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        );
    };
    if argv[2].eq_ignore_ascii_case(b"YES") {
        if !state.optin {
            return Reply::error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if argv[2].eq_ignore_ascii_case(b"NO") {
        if !state.optout {
            return Reply::error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return Reply::error(errors::SYNTAX);
    }
    state.caching = true;
    Reply::ok()
}

/// `CLIENT GETREDIR`: the redirection (0 for none), or -1 when not tracking.
pub fn getredir(ctx: &mut Ctx<'_>) -> Reply {
    match ctx.state.tracking.of(ctx.session.id) {
        Some(state) => Reply::integer(state.redirect),
        None => Reply::Integer(-1),
    }
}

/// `CLIENT TRACKINGINFO`: flags, redirect and prefixes.
pub fn trackinginfo(ctx: &mut Ctx<'_>) -> Reply {
    let state = ctx.state.tracking.of(ctx.session.id);
    let mut flags = vec![if state.is_some() { "on" } else { "off" }];
    if let Some(s) = state {
        if s.bcast {
            flags.push("bcast");
        }
        if s.optin {
            flags.push("optin");
            if s.caching {
                flags.push("caching-yes");
            }
        }
        if s.optout {
            flags.push("optout");
            if s.caching {
                flags.push("caching-no");
            }
        }
        if s.noloop {
            flags.push("noloop");
        }
        if s.broken_redirect {
            flags.push("broken_redirect");
        }
    }
    let redirect = state.map_or(Reply::Integer(-1), |s| Reply::integer(s.redirect));
    let prefixes = state.map_or(Vec::new(), |s| {
        s.prefixes.iter().cloned().map(Reply::Bulk).collect()
    });
    Reply::Map(vec![
        (
            Reply::bulk_str("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk_str).collect()),
        ),
        (Reply::bulk_str("redirect"), redirect),
        (Reply::bulk_str("prefixes"), Reply::Array(prefixes)),
    ])
}
