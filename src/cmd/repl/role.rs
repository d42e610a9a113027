use bytes::Bytes;

use crate::cmd::Ctx;
use crate::resp::Reply;
use crate::server::replication::LinkStatus;

pub fn role(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    let repl = &ctx.state.repl;
    match &repl.master {
        None => {
            let replicas = repl
                .replicas
                .values()
                .map(|r| {
                    Reply::Array(vec![
                        Reply::bulk(Bytes::from(r.ip.clone())),
                        Reply::bulk(Bytes::from(r.listening_port.to_string())),
                        Reply::bulk(Bytes::from(r.ack_offset.to_string())),
                    ])
                })
                .collect();
            Reply::Array(vec![
                Reply::bulk_str("master"),
                Reply::integer(repl.log.end_offset()),
                Reply::Array(replicas),
            ])
        }
        Some(link) => {
            let state = match link.status {
                LinkStatus::Down => "connect",
                LinkStatus::Connecting => "connecting",
                LinkStatus::Handshake => "handshake",
                LinkStatus::Syncing => "sync",
                LinkStatus::Up => "connected",
            };
            let offset = if link.status == LinkStatus::Up {
                repl.log.end_offset() as i64
            } else {
                -1
            };
            Reply::Array(vec![
                Reply::bulk_str("slave"),
                Reply::bulk(Bytes::from(link.host.clone())),
                Reply::integer(link.port),
                Reply::bulk_str(state),
                Reply::Integer(offset),
            ])
        }
    }
}
