//! GEORADIUS GEORADIUSBYMEMBER (and their _RO forms), GEOSEARCH and GEOSEARCHSTORE: one
//! parser and one search, as Redis's `georadiusGeneric`, so the variants differ only in
//! which arguments they take. Arguments are read in Redis's order, which decides which
//! error a bad command gets. STORE forms are propagated as they came: replicas search the
//! same data the same way.

use crate::config::keyspace_events as events;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::area::{self, Extent, Shape};
use super::commands::{coordinate, fixed4, unit_meters};
use super::hash::{self, Cell};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::cmd::zset::score::parse_score;
use crate::resp::Reply;
use crate::store::{Value, ZSet};
use crate::util::num::parse_i64;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// GEORADIUS and GEORADIUS_RO: centre and radius as the first arguments.
    Radius { read_only: bool },
    /// GEORADIUSBYMEMBER and its _RO form: a member as the centre.
    ByMember { read_only: bool },
    /// GEOSEARCH, and GEOSEARCHSTORE with its destination first.
    Search { store: bool },
}

impl Variant {
    fn source_index(self) -> usize {
        match self {
            Variant::Search { store: true } => 2,
            _ => 1,
        }
    }
}

pub fn georadius(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    search(ctx, argv, Variant::Radius { read_only: false })
}

pub fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    search(ctx, argv, Variant::Radius { read_only: true })
}

pub fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    search(ctx, argv, Variant::ByMember { read_only: false })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    search(ctx, argv, Variant::ByMember { read_only: true })
}

pub fn geosearch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    search(ctx, argv, Variant::Search { store: false })
}

pub fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    search(ctx, argv, Variant::Search { store: true })
}

fn search(ctx: &mut Ctx<'_>, argv: &[Bytes], variant: Variant) -> Reply {
    match run(ctx, argv, variant) {
        Ok(reply) | Err(reply) => reply,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Unsorted,
    Ascending,
    Descending,
}

/// Where the results go when they are stored, and which score they get.
struct Store {
    key: Bytes,
    distances: bool,
}

/// Everything after the fixed arguments.
struct Options {
    with_distance: bool,
    with_hash: bool,
    with_coordinates: bool,
    order: Order,
    any: bool,
    /// 0: all.
    count: usize,
    store: Option<Store>,
}

/// A member found inside the shape.
struct Found {
    member: Bytes,
    score: f64,
    distance_meters: f64,
    longitude: f64,
    latitude: f64,
}

fn position(longitude: &[u8], latitude: &[u8]) -> Result<(f64, f64), Reply> {
    let (Some(longitude), Some(latitude)) = (parse_score(longitude), parse_score(latitude)) else {
        return Err(Reply::error(errors::NOT_FLOAT));
    };
    if !hash::valid(longitude, latitude) {
        return Err(Reply::error(format!(
            "ERR invalid longitude,latitude pair {longitude:.6},{latitude:.6}"
        )));
    }
    Ok((longitude, latitude))
}

fn member_position(zset: &ZSet, member: &[u8]) -> Result<(f64, f64), Reply> {
    zset.score(member)
        .map(hash::decode)
        .ok_or_else(|| Reply::error("ERR could not decode requested zset member"))
}

fn unit(arg: &[u8]) -> Result<f64, Reply> {
    unit_meters(arg)
        .ok_or_else(|| Reply::error("ERR unsupported unit provided. please use M, KM, FT, MI"))
}

/// `radius unit`: the extent and its meters per unit.
fn radius(args: &[Bytes]) -> Result<(Extent, f64), Reply> {
    let radius = parse_score(&args[0]).ok_or_else(|| Reply::error("ERR need numeric radius"))?;
    if radius < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((Extent::Radius(radius), unit(&args[1])?))
}

/// `width height unit`.
fn rectangle(args: &[Bytes]) -> Result<(Extent, f64), Reply> {
    let width = parse_score(&args[0]).ok_or_else(|| Reply::error("ERR need numeric width"))?;
    let height = parse_score(&args[1]).ok_or_else(|| Reply::error("ERR need numeric height"))?;
    if width < 0.0 || height < 0.0 {
        return Err(Reply::error("ERR height or width cannot be negative"));
    }
    Ok((Extent::Box { width, height }, unit(&args[2])?))
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], variant: Variant) -> Result<Reply, Reply> {
    let zset = ctx.read_zset(&argv[variant.source_index()])?;
    let mut centre = None;
    let mut extent = None;
    let first_option = match variant {
        Variant::Radius { .. } => {
            centre = Some(position(&argv[2], &argv[3])?);
            extent = Some(radius(&argv[4..6])?);
            6
        }
        Variant::ByMember { .. } => {
            // Without the key the rest is only parsed, to know which empty reply to give.
            if let Some(zset) = &zset {
                centre = Some(member_position(zset, &argv[2])?);
                extent = Some(radius(&argv[3..5])?);
            }
            5
        }
        Variant::Search { store } => 2 + usize::from(store),
    };
    let mut options = Options {
        with_distance: false,
        with_hash: false,
        with_coordinates: false,
        order: Order::Unsorted,
        any: false,
        count: 0,
        store: match variant {
            Variant::Search { store: true } => Some(Store {
                key: argv[1].clone(),
                distances: false,
            }),
            _ => None,
        },
    };
    let (stores, searches) = match variant {
        Variant::Radius { read_only } | Variant::ByMember { read_only } => (!read_only, false),
        Variant::Search { .. } => (false, true),
    };
    let (mut from_member, mut from_position, mut by_radius, mut by_box) =
        (false, false, false, false);
    let args = &argv[first_option..];
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let more = args.len() - i - 1;
        let is = |name: &[u8]| arg.eq_ignore_ascii_case(name);
        if is(b"WITHDIST") {
            options.with_distance = true;
        } else if is(b"WITHHASH") {
            options.with_hash = true;
        } else if is(b"WITHCOORD") {
            options.with_coordinates = true;
        } else if is(b"ANY") {
            options.any = true;
        } else if is(b"ASC") {
            options.order = Order::Ascending;
        } else if is(b"DESC") {
            options.order = Order::Descending;
        } else if is(b"COUNT") && more >= 1 {
            let count = parse_i64(&args[i + 1]).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
            options.count = usize::try_from(count)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| Reply::error("ERR COUNT must be > 0"))?;
            i += 1;
        } else if (is(b"STORE") || is(b"STOREDIST")) && more >= 1 && stores {
            options.store = Some(Store {
                key: args[i + 1].clone(),
                distances: is(b"STOREDIST"),
            });
            i += 1;
        } else if is(b"STOREDIST") && variant == (Variant::Search { store: true }) {
            if let Some(store) = &mut options.store {
                store.distances = true;
            }
        } else if is(b"FROMMEMBER") && more >= 1 && searches && !from_position {
            if let Some(zset) = &zset {
                centre = Some(member_position(zset, &args[i + 1])?);
            }
            from_member = true;
            i += 1;
        } else if is(b"FROMLONLAT") && more >= 2 && searches && !from_member {
            centre = Some(position(&args[i + 1], &args[i + 2])?);
            from_position = true;
            i += 2;
        } else if is(b"BYRADIUS") && more >= 2 && searches && !by_box {
            extent = Some(radius(&args[i + 1..i + 3])?);
            by_radius = true;
            i += 2;
        } else if is(b"BYBOX") && more >= 3 && searches && !by_radius {
            extent = Some(rectangle(&args[i + 1..i + 4])?);
            by_box = true;
            i += 3;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(&argv[0]);
    if options.store.is_some()
        && (options.with_distance || options.with_hash || options.with_coordinates)
    {
        let what = if variant == (Variant::Search { store: true }) {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Reply::error(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    if searches && !(from_member || from_position) {
        return Err(Reply::error(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if searches && !(by_radius || by_box) {
        return Err(Reply::error(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if options.any && options.count == 0 {
        return Err(Reply::error("ERR the ANY argument requires COUNT argument"));
    }
    let Some(zset) = zset else {
        return Ok(match &options.store {
            Some(store) => {
                ctx.delete(&store.key);
                Reply::Integer(0)
            }
            None => Reply::Array(Vec::new()),
        });
    };
    // With the key present, each variant has found its centre and extent above.
    let (Some((longitude, latitude)), Some((extent, to_meters))) = (centre, extent) else {
        debug_assert!(false, "a present key leaves no search without its shape");
        return Err(Reply::error(errors::SYNTAX));
    };
    // The closest N only make sense sorted; ANY takes whichever N come first.
    if options.count != 0 && options.order == Order::Unsorted && !options.any {
        options.order = Order::Ascending;
    }
    let shape = Shape {
        longitude,
        latitude,
        extent,
        to_meters,
    };
    let limit = if options.any { options.count } else { 0 };
    let mut found = members_within(&zset, &shape, limit);
    match options.order {
        Order::Unsorted => {}
        // Stable, as glibc's merge-sorting qsort is: equal distances keep their order.
        Order::Ascending => found.sort_by(|a, b| a.distance_meters.total_cmp(&b.distance_meters)),
        Order::Descending => {
            found.sort_by(|a, b| b.distance_meters.total_cmp(&a.distance_meters));
        }
    }
    if options.count != 0 {
        found.truncate(options.count);
    }
    match options.store {
        Some(store) => Ok(store_found(ctx, &store, found, to_meters, searches)),
        None => Ok(reply_found(&options, found, to_meters)),
    }
}

/// The members inside the shape, cell by cell in Redis's order; with a `limit`, stops as
/// soon as that many are found (`membersOfAllNeighbors`).
fn members_within(zset: &ZSet, shape: &Shape, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    // Redis compares each cell with the last neighbour searched (never with the centre's),
    // which skips the repeats a huge radius produces.
    let mut last_neighbour: Option<Cell> = None;
    for (index, cell) in area::cells_to_search(shape).into_iter().enumerate() {
        let Some(cell) = cell else { continue };
        if last_neighbour == Some(cell) {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        let (low, high) = cell.score_range();
        #[allow(
            clippy::cast_precision_loss,
            reason = "52-bit scores are exact in a double"
        )]
        let range = zset.range_by_score(Bound::Included(low as f64), Bound::Excluded(high as f64));
        for (member, score) in range {
            let (longitude, latitude) = hash::decode(score);
            if let Some(distance_meters) = shape.distance_if_within(longitude, latitude) {
                found.push(Found {
                    member: member.clone(),
                    score,
                    distance_meters,
                    longitude,
                    latitude,
                });
            }
            if limit != 0 && found.len() >= limit {
                break;
            }
        }
        if index > 0 {
            last_neighbour = Some(cell);
        }
    }
    found
}

fn reply_found(options: &Options, found: Vec<Found>, to_meters: f64) -> Reply {
    let extras = usize::from(options.with_distance)
        + usize::from(options.with_hash)
        + usize::from(options.with_coordinates);
    Reply::Array(
        found
            .into_iter()
            .map(|f| {
                if extras == 0 {
                    return Reply::Bulk(f.member);
                }
                let mut item = Vec::with_capacity(extras + 1);
                item.push(Reply::Bulk(f.member));
                if options.with_distance {
                    item.push(Reply::Bulk(fixed4(f.distance_meters / to_meters)));
                }
                if options.with_hash {
                    #[allow(
                        clippy::cast_possible_truncation,
                        reason = "C converts the score to long long, truncating"
                    )]
                    item.push(Reply::Integer(f.score as i64));
                }
                if options.with_coordinates {
                    item.push(Reply::Array(vec![
                        coordinate(f.longitude),
                        coordinate(f.latitude),
                    ]));
                }
                Reply::Array(item)
            })
            .collect(),
    )
}

/// Replaces the destination with the found members (scored by geohash or by distance),
/// or deletes it when none were found.
fn store_found(
    ctx: &mut Ctx<'_>,
    store: &Store,
    found: Vec<Found>,
    to_meters: f64,
    searches_store: bool,
) -> Reply {
    let stored = found.len();
    if stored == 0 {
        ctx.delete(&store.key);
        return Reply::Integer(0);
    }
    let mut zset = ZSet::with_encoding(false);
    for f in found {
        let score = if store.distances {
            f.distance_meters / to_meters
        } else {
            f.score
        };
        zset.insert(f.member, score);
    }
    zset.fit_compact(crate::cmd::zset::compact_limits(ctx));
    ctx.set_value(&store.key, Value::ZSet(Arc::new(zset)));
    ctx.add_changes(stored as u64 - 1);
    let event = if searches_store {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    ctx.notify(events::ZSET, event, &store.key);
    Reply::integer(stored)
}
