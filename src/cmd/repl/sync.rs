use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;
use crate::server::replication::LinkStatus;
use crate::server::session::PsyncRequest;

/// Refuses a sync while we are a replica without a live link to our own master: our data
/// may be stale and our history is about to change.
fn refuse(ctx: &Ctx<'_>) -> Option<Reply> {
    match &ctx.state.repl.master {
        Some(link) if link.status != LinkStatus::Up => Some(Reply::error(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        )),
        _ => None,
    }
}

/// PSYNC <replid> <offset>: the connection turns into a replica stream once this batch is
/// answered; the answer (+FULLRESYNC or +CONTINUE) comes from the replication task.
pub fn psync(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len() > 3
        && argv[3].eq_ignore_ascii_case(b"failover")
        && let Err(error) = take_over(ctx, &argv[1])
    {
        return error;
    }
    if let Some(error) = refuse(ctx) {
        return error;
    }
    ctx.session.psync_request = Some(PsyncRequest {
        replid: String::from_utf8_lossy(&argv[1]).into_owned(),
        offset: String::from_utf8_lossy(&argv[2]).into_owned(),
        legacy_sync: false,
    });
    Reply::Raw(b"")
}

/// `PSYNC <replid> <offset> FAILOVER` from our master (its FAILOVER command): we become the
/// master first, which keeps its history valid under replid2, so the PSYNC that follows
/// continues it.
fn take_over(ctx: &mut Ctx<'_>, replid: &Bytes) -> Result<(), Reply> {
    if !ctx.state.repl.is_replica() {
        return Err(Reply::error(
            "ERR PSYNC FAILOVER can't be sent to a master.",
        ));
    }
    if !replid.eq_ignore_ascii_case(ctx.state.repl.ids.replid.as_bytes()) {
        return Err(Reply::error(
            "ERR PSYNC FAILOVER replid must match my replid.",
        ));
    }
    let from = ctx.state.clients.addr_of(ctx.session.id);
    crate::repl::role::unfollow(ctx.state);
    tracing::info!("MASTER MODE enabled (failover request from '{from}')");
    Ok(())
}

pub fn sync(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    if let Some(error) = refuse(ctx) {
        return error;
    }
    ctx.session.psync_request = Some(PsyncRequest {
        replid: "?".into(),
        offset: "-1".into(),
        legacy_sync: true,
    });
    Reply::Raw(b"")
}
