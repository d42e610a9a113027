use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

/// REPLCONF <option> <value> ...: what a replica tells its master during the handshake.
pub fn replconf(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::error(errors::SYNTAX);
    }
    for pair in argv[1..].chunks(2) {
        let option = pair[0].to_ascii_lowercase();
        let value = &pair[1];
        let handshake = &mut ctx.session.replica_handshake;
        match option.as_slice() {
            b"listening-port" => match parse_i64(value).and_then(|p| u16::try_from(p).ok()) {
                Some(port) => handshake.listening_port = port,
                None => return Reply::error(errors::NOT_INTEGER),
            },
            b"ip-address" => {
                handshake.announced_ip = Some(String::from_utf8_lossy(value).into_owned())
            }
            b"capa" => match value.to_ascii_lowercase().as_slice() {
                b"eof" => handshake.capa_eof = true,
                b"psync2" => handshake.capa_psync2 = true,
                b"zstd" => handshake.capa_zstd = true,
                b"size-hint" => handshake.capa_size_hint = true,
                // Masters ignore capabilities they do not know.
                _ => {}
            },
            b"rdb-only" => match value.as_ref() {
                b"0" => handshake.rdb_only = false,
                b"1" => handshake.rdb_only = true,
                _ => return Reply::error(errors::NOT_INTEGER),
            },
            // ACKs arrive on the replica stream, which the replication task reads itself; a
            // stray one on a normal connection is ignored without a reply, as in Redis.
            b"ack" | b"fack" => return Reply::Raw(b""),
            b"getack" => return Reply::Raw(b""),
            b"rdb-filter-only" => {}
            b"version" => match crate::repl::payload_format::AnnouncedVersion::parse(value) {
                Some(v) => handshake.announced_version = Some(v),
                None => {
                    return Reply::error(format!(
                        "ERR Unrecognized version format: {}",
                        String::from_utf8_lossy(value)
                    ));
                }
            },
            _ => {
                return Reply::error(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&pair[0])
                ));
            }
        }
    }
    Reply::ok()
}
