use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;

/// Constant-time comparison, so a wrong password's timing says nothing about the right one.
pub fn password_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Checks a username/password pair against the only user sluice has, `default`.
pub fn check_credentials(ctx: &Ctx<'_>, user: &[u8], password: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.state.config.requirepass {
        None => true,
        Some(expected) => password_matches(password, expected),
    }
}

pub fn auth(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    if argv.len() == 2 && ctx.state.config.requirepass.is_none() {
        return Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    let (user, password) = if argv.len() == 3 {
        (&argv[1][..], &argv[2][..])
    } else {
        (&b"default"[..], &argv[1][..])
    };
    if check_credentials(ctx, user, password) {
        ctx.session.authenticated = true;
        Reply::ok()
    } else {
        tracing::warn!(client = ctx.session.id, "AUTH failed: wrong password");
        Reply::error(errors::WRONGPASS)
    }
}
