//! REPLICAOF host port | NO ONE (and its old name SLAVEOF).

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;
use crate::util::num::parse_i64;

pub fn replicaof(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if ctx.state.repl.failover.is_some() {
        return Reply::error("ERR REPLICAOF not allowed while failing over.");
    }
    let (host, port) = (&argv[1], &argv[2]);
    let from = ctx.state.clients.addr_of(ctx.session.id);
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        if crate::repl::role::unfollow(ctx.state) {
            tracing::info!("MASTER MODE enabled (user request from '{from}')");
        }
        return Reply::ok();
    }
    let Some(port) = parse_i64(port).and_then(|p| u16::try_from(p).ok()) else {
        return Reply::error("ERR Invalid master port");
    };
    let host = String::from_utf8_lossy(host).into_owned();
    if let Some(link) = &ctx.state.repl.master
        && link.host.eq_ignore_ascii_case(&host)
        && link.port == port
        && !link.halted
    {
        tracing::info!(
            "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
        );
        return Reply::simple("OK Already connected to specified master");
    }
    tracing::info!("REPLICAOF {host}:{port} requested (user request from '{from}')");
    // A running server offers its own history to the new master, which may continue it.
    crate::repl::role::follow(ctx.server, ctx.state, host, port, true);
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use crate::cmd::keys::test_support::Harness;
    use crate::resp::Reply;

    #[test]
    fn port_errors_match_redis() {
        let mut h = Harness::new();
        for port in ["abc", "70000", "-1", "7279.0", "65536"] {
            assert_eq!(
                h.run(&format!("replicaof 127.0.0.1 {port}")),
                Reply::error("ERR Invalid master port"),
                "{port}"
            );
        }
        assert_eq!(
            h.run("replicaof no two"),
            Reply::error("ERR Invalid master port")
        );
        assert_eq!(h.run("replicaof NO one"), Reply::ok());
        assert!(h.state.repl.master.is_none());
    }

    #[test]
    fn follow_then_promote_shifts_the_history() {
        let mut h = Harness::new();
        let first = h.state.repl.ids.replid;
        assert_eq!(h.run("replicaof 127.0.0.1 7279"), Reply::ok());
        assert!(h.state.repl.master.is_some());
        assert!(!h.state.expire_deletes);
        assert_eq!(
            h.run("replicaof 127.0.0.1 7279"),
            Reply::simple("OK Already connected to specified master")
        );
        let epoch = h.state.repl.master_epoch;
        assert_eq!(h.run("slaveof no one"), Reply::ok());
        assert!(h.state.repl.master.is_none());
        assert!(h.state.expire_deletes);
        assert!(h.state.repl.master_epoch > epoch);
        assert_eq!(h.state.repl.ids.replid2, first);
        assert_ne!(h.state.repl.ids.replid, first);
        assert_eq!(h.state.repl.ids.second_replid_offset, 1);
    }
}
