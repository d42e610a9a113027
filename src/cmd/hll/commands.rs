//! PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST on string values holding Redis's sketch
//! format. Writes propagate as they came; so does a PFCOUNT that refreshed the cached
//! cardinality, because that changes the string's bytes and replicas must hold the same.

use crate::config::keyspace_events as events;
use bytes::{Bytes, BytesMut};

use super::sketch::{self, Corrupt, Encoding, REGISTERS};
use crate::cmd::ctx::Ctx;
use crate::cmd::errors;
use crate::cmd::string::range::edit_in_place;
use crate::resp::Reply;
use crate::store::{Entry, StrValue, Value};

const NOT_A_SKETCH: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

impl From<Corrupt> for Reply {
    fn from(_: Corrupt) -> Reply {
        Reply::error(CORRUPT)
    }
}

fn sparse_bytes_max(ctx: &Ctx<'_>) -> usize {
    ctx.state.config.encoding_limits.hll_sparse_max_bytes
}

/// Runs `read` on the sketch at `key` (its encoding and bytes) in the one lookup the
/// command makes of it; `None` if there is no key, an error reply for a value that is not
/// a sketch.
fn with_sketch<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    write: bool,
    read: impl FnOnce(Encoding, &[u8]) -> T,
) -> Result<Option<T>, Reply> {
    let entry = if write {
        ctx.lookup_write(key).map(|e| &*e)
    } else {
        ctx.lookup_read(key)
    };
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(value)) => sketch::encoding_of(value)
            .map(|encoding| Some(read(encoding, value)))
            .ok_or_else(|| Reply::error(NOT_A_SKETCH)),
        Some(_) => Err(Reply::error(errors::WRONGTYPE)),
    }
}

/// The encoding of the sketch at `key` (see [`with_sketch`]).
fn sketch_at(ctx: &mut Ctx<'_>, key: &[u8], write: bool) -> Result<Option<Encoding>, Reply> {
    with_sketch(ctx, key, write, |encoding, _| encoding)
}

/// Creates an empty sketch at `key`, which holds nothing.
fn create(ctx: &mut Ctx<'_>, key: &[u8]) {
    ctx.insert_entry(
        key,
        Entry::new(Value::Str(StrValue::copy_from(&sketch::new_sparse()))),
    );
}

/// Runs `edit` on the sketch at `key`, which the caller has checked is one.
fn edit<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    edit: impl FnOnce(&mut BytesMut) -> Result<T, Corrupt>,
) -> Result<T, Reply> {
    match edit_in_place(ctx, key, edit) {
        Some(result) => result.map_err(Reply::from),
        None => {
            debug_assert!(false, "the sketch was checked before it was edited");
            Err(Reply::error(NOT_A_SKETCH))
        }
    }
}

/// `PFADD key [element ...]`: 1 if the key was created or a register changed.
pub fn pfadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match pfadd_inner(ctx, argv) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn pfadd_inner(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Result<Reply, Reply> {
    let key = &argv[1];
    let mut updated: u64 = 0;
    if sketch_at(ctx, key, true)?.is_none() {
        create(ctx, key);
        updated += 1;
    }
    let limit = sparse_bytes_max(ctx);
    updated += edit(ctx, key, |value| {
        let mut changed = 0;
        for element in &argv[2..] {
            changed += u64::from(sketch::add(value, element, limit)?);
        }
        if updated + changed > 0 {
            sketch::mark_cardinality_stale(value);
        }
        Ok(changed)
    })?;
    if updated == 0 {
        return Ok(Reply::Integer(0));
    }
    ctx.modified(key);
    ctx.add_changes(updated - 1);
    ctx.notify(events::STRING, "pfadd", key);
    Ok(Reply::Integer(1))
}

/// `PFCOUNT key [key ...]`: one key's cached or refreshed cardinality, or the cardinality
/// of the union of several.
pub fn pfcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match pfcount_inner(ctx, argv) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn pfcount_inner(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Result<Reply, Reply> {
    if argv.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        merge_sources(ctx, &argv[1..], &mut max)?;
        return Ok(Reply::integer(sketch::cardinality_of_registers(&max)));
    }
    let key = &argv[1];
    if sketch_at(ctx, key, false)?.is_none() {
        return Ok(Reply::Integer(0));
    }
    let refreshed = edit(ctx, key, |value| {
        if let Some(cached) = sketch::cached_cardinality(value) {
            return Ok((cached, false));
        }
        let cardinality = sketch::cardinality(value)?;
        sketch::set_cached_cardinality(value, cardinality);
        Ok((cardinality, true))
    })?;
    let (cardinality, changed) = refreshed;
    if changed {
        // A read-only command that changed the string: replicas refresh theirs too.
        ctx.modified(key);
        ctx.also_propagate(argv.to_vec());
    }
    Ok(Reply::integer(cardinality))
}

/// Merges the sketches at `keys` (missing ones are empty) into `max`; whether one of them
/// is dense.
fn merge_sources(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    max: &mut [u8; REGISTERS],
) -> Result<bool, Reply> {
    let mut any_dense = false;
    for key in keys {
        let merged = with_sketch(ctx, key, false, |encoding, value| {
            any_dense |= encoding == Encoding::Dense;
            sketch::merge_into(max, value)
        })?;
        merged.transpose()?;
    }
    Ok(any_dense)
}

/// `PFMERGE destkey [sourcekey ...]`: the destination (itself a source) becomes the union.
pub fn pfmerge(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match pfmerge_inner(ctx, argv) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn pfmerge_inner(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Result<Reply, Reply> {
    let mut max = Box::new([0u8; REGISTERS]);
    let any_dense = merge_sources(ctx, &argv[1..], &mut max)?;
    let dest = &argv[1];
    if sketch_at(ctx, dest, true)?.is_none() {
        create(ctx, dest);
    }
    let limit = sparse_bytes_max(ctx);
    edit(ctx, dest, |value| {
        // A dense source makes a dense destination at once, sparing the promotion.
        if any_dense {
            sketch::make_dense(value)?;
        }
        for (index, &run) in max.iter().enumerate() {
            if run != 0 {
                // Redis ignores a damaged destination here; so must the bytes.
                let _ = sketch::raise(value, index, run, limit);
            }
        }
        sketch::mark_cardinality_stale(value);
        Ok(())
    })?;
    ctx.modified(dest);
    // A merge is a mass add, and Redis names it so.
    ctx.notify(events::STRING, "pfadd", dest);
    Ok(Reply::ok())
}

/// `PFDEBUG GETREG|DECODE|ENCODING|TODENSE key` (exactly three arguments, by its arity).
pub fn pfdebug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match pfdebug_inner(ctx, argv) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn pfdebug_inner(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Result<Reply, Reply> {
    let sub = &argv[1];
    let key = &argv[2];
    let is = |name: &[u8]| sub.eq_ignore_ascii_case(name);
    // DECODE's text is read in the lookup every subcommand makes.
    let looked_up = with_sketch(ctx, key, true, |encoding, value| {
        let decoded =
            (is(b"DECODE") && encoding == Encoding::Sparse).then(|| sketch::describe_sparse(value));
        (encoding, decoded)
    })?;
    let Some((encoding, decoded)) = looked_up else {
        return Err(Reply::error("ERR The specified key does not exist"));
    };
    if is(b"GETREG") || is(b"TODENSE") {
        let (converted, registers) = edit(ctx, key, |value| {
            let converted = sketch::make_dense(value)?;
            let registers = is(b"GETREG").then(|| sketch::dense_registers(value));
            Ok((converted, registers))
        })?;
        if converted {
            // The encoding changed: replicas convert theirs too.
            ctx.modified(key);
        }
        return Ok(match registers {
            Some(registers) => Reply::Array(
                registers
                    .into_iter()
                    .map(|r| Reply::Integer(i64::from(r)))
                    .collect(),
            ),
            None => Reply::Integer(i64::from(converted)),
        });
    }
    if is(b"DECODE") {
        return match decoded {
            Some(text) => Ok(Reply::Bulk(Bytes::from(text))),
            None => Err(Reply::error("ERR HLL encoding is not sparse")),
        };
    }
    if is(b"ENCODING") {
        return Ok(Reply::simple(match encoding {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }));
    }
    Err(Reply::error(format!(
        "ERR Unknown PFDEBUG subcommand '{}'",
        String::from_utf8_lossy(sub)
    )))
}

/// `PFSELFTEST`: the register packing and the estimator's error, checked in this process.
pub fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> Reply {
    let limit = sparse_bytes_max(ctx);
    let mut rng = rand::rng();
    match sketch::self_test(limit, || rand::Rng::random::<u64>(&mut rng)) {
        Ok(()) => Reply::ok(),
        Err(message) => Reply::error(message),
    }
}
