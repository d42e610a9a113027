use bytes::Bytes;

use crate::cmd::Ctx;
use crate::repl::LinkStatus;
use crate::resp::Reply;
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
