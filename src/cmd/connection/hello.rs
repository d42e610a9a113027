use bytes::Bytes;

use super::auth::check_credentials;
use super::client::valid_client_name;
use crate::cmd::{Ctx, errors};
use crate::resp::{Protocol, Reply};
use crate::util::num::parse_i64;

pub fn hello(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut protocol = ctx.session.protocol;
    let mut name: Option<Bytes> = None;
    let mut credentials: Option<(Bytes, Bytes)> = None;
    if argv.len() >= 2 {
        let version = match parse_i64(&argv[1]) {
            Some(v) => v,
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        };
        protocol = match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Reply::error("NOPROTO unsupported protocol version"),
        };
        let mut i = 2;
        while i < argv.len() {
            let option = argv[i].to_ascii_lowercase();
            let remaining = argv.len() - i - 1;
            if option == b"auth" && remaining >= 2 {
                credentials = Some((argv[i + 1].clone(), argv[i + 2].clone()));
                i += 3;
            } else if option == b"setname" && remaining >= 1 {
                name = Some(argv[i + 1].clone());
                i += 2;
            } else {
                return Reply::error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&argv[i])
                ));
            }
        }
    }
    if let Some((user, password)) = &credentials {
        if !check_credentials(ctx, user, password) {
            return Reply::error(errors::WRONGPASS);
        }
        ctx.session.authenticated = true;
    }
    if !ctx.session.authenticated && ctx.state.config.requirepass.is_some() {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = name {
        if !valid_client_name(&name) {
            return Reply::error(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            );
        }
        ctx.session.name = if name.is_empty() { None } else { Some(name) };
    }
    ctx.session.protocol = protocol;
    let role = if ctx.state.config.replicaof.is_some() {
        "replica"
    } else {
        "master"
    };
    Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (
            Reply::bulk_str("version"),
            Reply::bulk_str(crate::REDIS_VERSION),
        ),
        (
            Reply::bulk_str("proto"),
            Reply::Integer(if protocol == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (Reply::bulk_str("id"), Reply::integer(ctx.session.id)),
        (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
        (Reply::bulk_str("role"), Reply::bulk_str(role)),
        (Reply::bulk_str("modules"), Reply::Array(Vec::new())),
    ])
}
