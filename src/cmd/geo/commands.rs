//! GEOADD GEOPOS GEODIST GEOHASH.

use bytes::Bytes;

use super::hash;
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::cmd::zset::score::parse_score;
use crate::resp::Reply;

/// `GEOADD key [NX|XX] [CH] longitude latitude member ...`: the ZADD of the members with
/// their geohash scores, which is also what replicas get.
pub fn geoadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while let Some(opt) = argv.get(first) {
        if opt.eq_ignore_ascii_case(b"NX") {
            nx = true;
        } else if opt.eq_ignore_ascii_case(b"XX") {
            xx = true;
        } else if !opt.eq_ignore_ascii_case(b"CH") {
            break;
        }
        first += 1;
    }
    let triples = &argv[first..];
    if !triples.len().is_multiple_of(3) || (nx && xx) {
        return Reply::error(errors::SYNTAX);
    }
    let mut zadd: Vec<Bytes> = Vec::with_capacity(first + triples.len() / 3 * 2);
    zadd.push(Bytes::from_static(b"ZADD"));
    zadd.extend(argv[1..first].iter().cloned());
    for triple in triples.chunks_exact(3) {
        let (Some(longitude), Some(latitude)) = (parse_score(&triple[0]), parse_score(&triple[1]))
        else {
            return Reply::error(errors::NOT_FLOAT);
        };
        if !hash::valid(longitude, latitude) {
            return Reply::error(format!(
                "ERR invalid longitude,latitude pair {longitude:.6},{latitude:.6}"
            ));
        }
        zadd.push(Bytes::from(hash::encode(longitude, latitude).to_string()));
        zadd.push(triple[2].clone());
    }
    let reply = crate::cmd::zset::add::zadd(ctx, &zadd);
    if !reply.is_error() {
        ctx.rewrite(zadd);
    }
    reply
}

/// A coordinate as Redis prints one (`%.17Lf`, trailing zeros and dot dropped), a bulk
/// string in RESP2 and a RESP3 double with that same text.
pub(super) fn coordinate(value: f64) -> Reply {
    let mut text = format!("{value:.17}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    Reply::DoubleText(Bytes::from(text))
}

/// The scores of `members` in the sorted set at `key` (`None` for a missing one, or all when
/// the key is missing); `Err` is WRONGTYPE.
fn member_scores(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    members: &[Bytes],
) -> Result<Vec<Option<f64>>, Reply> {
    let zset = ctx.read_zset(key)?;
    Ok(members
        .iter()
        .map(|member| zset.as_ref().and_then(|z| z.score(member)))
        .collect())
}

pub fn geopos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let scores = match member_scores(ctx, &argv[1], &argv[2..]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    Reply::Array(
        scores
            .into_iter()
            .map(|score| match score {
                Some(score) => {
                    let (longitude, latitude) = hash::decode(score);
                    Reply::Array(vec![coordinate(longitude), coordinate(latitude)])
                }
                None => Reply::NilArray,
            })
            .collect(),
    )
}

/// A distance with four decimals as Redis writes one (`fixedpoint_d2string`): scaled by
/// 10^4 and rounded half to even as an integer, which differs from formatting the double
/// with four decimals at some halfway points.
#[allow(
    clippy::cast_possible_truncation,
    reason = "llrint's conversion; distances are far below 2^63 / 10^4"
)]
pub(super) fn fixed4(value: f64) -> Bytes {
    let scaled = (value * 10000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    Bytes::from(format!(
        "{sign}{}.{:04}",
        magnitude / 10000,
        magnitude % 10000
    ))
}

/// Meters per unit, from GEODIST's and the searches' unit argument.
pub(super) fn unit_meters(arg: &[u8]) -> Option<f64> {
    if arg.eq_ignore_ascii_case(b"m") {
        Some(1.0)
    } else if arg.eq_ignore_ascii_case(b"km") {
        Some(1000.0)
    } else if arg.eq_ignore_ascii_case(b"ft") {
        Some(0.3048)
    } else if arg.eq_ignore_ascii_case(b"mi") {
        Some(1609.34)
    } else {
        None
    }
}

/// `GEODIST key member1 member2 [M|KM|FT|MI]`
pub fn geodist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => match unit_meters(&argv[4]) {
            Some(m) => m,
            None => {
                return Reply::error("ERR unsupported unit provided. please use M, KM, FT, MI");
            }
        },
        _ => return Reply::error(errors::SYNTAX),
    };
    let zset = match ctx.read_zset(&argv[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let (Some(a), Some(b)) = (zset.score(&argv[2]), zset.score(&argv[3])) else {
        return Reply::Nil;
    };
    let (lon1, lat1) = hash::decode(a);
    let (lon2, lat2) = hash::decode(b);
    Reply::Bulk(fixed4(hash::distance(lon1, lat1, lon2, lat2) / to_meters))
}

pub fn geohash(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let scores = match member_scores(ctx, &argv[1], &argv[2..]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    Reply::Array(
        scores
            .into_iter()
            .map(|score| {
                score.map_or(Reply::Nil, |s| {
                    Reply::Bulk(Bytes::from(hash::geohash_string(s)))
                })
            })
            .collect(),
    )
}
