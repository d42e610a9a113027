//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (Redis 7.0): hand the master role to
//! a replica without losing an acknowledged write. See `repl::failover`.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::repl::failover;
use crate::resp::Reply;
use crate::server::replication::{Failover, FailoverPhase};
use crate::util::num::parse_i64;

pub fn failover(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let request = match parse(argv) {
        Ok(request) => request,
        Err(error) => return Reply::error(error),
    };
    let (to, force, timeout_ms) = match request {
        Request::Abort => {
            if ctx.state.repl.failover.is_none() {
                return Reply::error("ERR No failover in progress.");
            }
            failover::abort(ctx.state, "Failover manually aborted");
            return Reply::ok();
        }
        Request::Start {
            to,
            force,
            timeout_ms,
        } => (to, force, timeout_ms),
    };
    let repl = &ctx.state.repl;
    if repl.failover.is_some() {
        return Reply::error("ERR FAILOVER already in progress.");
    }
    if repl.is_replica() {
        return Reply::error("ERR FAILOVER is not valid when server is a replica.");
    }
    if repl.replicas.is_empty() {
        return Reply::error("ERR FAILOVER requires connected replicas.");
    }
    if force && (timeout_ms.is_none() || to.is_none()) {
        return Reply::error(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    if let Some((host, port)) = &to {
        let target = repl
            .replicas
            .values()
            .find(|r| r.ip.eq_ignore_ascii_case(host) && r.listening_port == *port);
        match target {
            None => return Reply::error("ERR FAILOVER target HOST and PORT is not a replica."),
            Some(r) if !r.phase.is_online() => {
                return Reply::error("ERR FAILOVER target replica is not online.");
            }
            Some(_) => {}
        }
    }
    let now_ms = ctx.now_ms;
    failover::start(
        ctx.state,
        Failover {
            requested_target: to,
            force,
            deadline_unix_ms: timeout_ms.map(|ms| now_ms + ms),
            phase: FailoverPhase::WaitingForSync,
            target: None,
            started_unix_ms: now_ms,
        },
    );
    Reply::ok()
}

/// What `FAILOVER` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Abort,
    Start {
        to: Option<(String, u16)>,
        force: bool,
        timeout_ms: Option<u64>,
    },
}

/// Parses `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]` with Redis 7.0's checks and
/// error texts, in its order (the state checks come after, in the command).
pub fn parse(argv: &[Bytes]) -> Result<Request, &'static str> {
    if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"abort") {
        return Ok(Request::Abort);
    }
    let mut to = None;
    let mut force = false;
    let mut timeout_ms = None;
    let mut i = 1;
    while i < argv.len() {
        let word = argv[i].to_ascii_lowercase();
        let more = argv.len() - i - 1;
        match word.as_slice() {
            b"timeout" if more >= 1 && timeout_ms.is_none() => {
                let ms = parse_i64(&argv[i + 1]).ok_or(errors::NOT_INTEGER)?;
                if ms <= 0 {
                    return Err("ERR FAILOVER timeout must be greater than 0");
                }
                timeout_ms = Some(ms as u64);
                i += 2;
            }
            b"to" if more >= 2 && to.is_none() => {
                let port = parse_i64(&argv[i + 2]).ok_or(errors::NOT_INTEGER)?;
                let port = u16::try_from(port).map_err(|_| errors::NOT_INTEGER)?;
                to = Some((String::from_utf8_lossy(&argv[i + 1]).into_owned(), port));
                i += 3;
            }
            b"force" if !force => {
                force = true;
                i += 1;
            }
            _ => return Err(errors::SYNTAX),
        }
    }
    Ok(Request::Start {
        to,
        force,
        timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<Bytes> {
        text.split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn arguments_and_their_errors_match_redis() {
        assert_eq!(parse(&args("failover abort")), Ok(Request::Abort));
        assert_eq!(
            parse(&args("failover")),
            Ok(Request::Start {
                to: None,
                force: false,
                timeout_ms: None
            })
        );
        assert_eq!(
            parse(&args("FAILOVER TO 127.0.0.1 7000 FORCE TIMEOUT 50")),
            Ok(Request::Start {
                to: Some(("127.0.0.1".into(), 7000)),
                force: true,
                timeout_ms: Some(50)
            })
        );
        let syntax = Err(errors::SYNTAX);
        for bad in [
            "failover abort timeout 5",
            "failover timeout",
            "failover to host",
            "failover force force",
            "failover timeout 5 timeout 6",
            "failover bogus",
        ] {
            assert_eq!(parse(&args(bad)), syntax, "{bad}");
        }
        assert_eq!(
            parse(&args("failover timeout 0")),
            Err("ERR FAILOVER timeout must be greater than 0")
        );
        assert_eq!(parse(&args("failover timeout x")), Err(errors::NOT_INTEGER));
        assert_eq!(
            parse(&args("failover to h 70000")),
            Err(errors::NOT_INTEGER)
        );
    }
}
