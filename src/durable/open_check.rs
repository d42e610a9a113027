//! The check a log store gets when the log opens: which chunks can be trusted, what is cut,
//! and the repair batch that makes the store agree. A crash leaves its marks in the last
//! chunk, so that one is read through; damage is cut exactly, keeping every record before
//! it that passes its own CRC.

use super::ChunkIndex;
use super::chunk::{ChunkBuilder, split_records};
use super::meta::LogMeta;
use super::store::{ChunkId, LogStore, StoreBatch, StoreError};
use crate::log::record::{Record, RecordError};

/// What the store holds that can be trusted, and how to make it hold only that.
pub(super) struct Checked {
    pub meta: Option<LogMeta>,
    pub index: ChunkIndex,
    /// Offset of the first byte held (the metadata's start when no chunk is).
    pub start: u64,
    /// Offset after the last trusted byte: the durable end from here on.
    pub end: u64,
    /// Problems found, one sentence each (the caller logs them).
    pub damage: Vec<String>,
    /// Removes and rewrites that cut what is not trusted.
    pub repair: StoreBatch,
}

pub(super) fn check(store: &dyn LogStore) -> Result<Checked, StoreError> {
    let mut damage = Vec::new();
    let meta = read_meta(store, &mut damage)?;
    let ids = store.chunk_ids()?;
    let mut index = ChunkIndex::new();
    let mut repair = StoreBatch::default();
    let mut end = meta.as_ref().map_or(0, |m| m.log_start);
    if meta.is_none() && !ids.is_empty() {
        // Records without the ids they belong to cannot be trusted to continue anything.
        damage.push(format!(
            "{} log chunks without metadata: discarded",
            ids.len()
        ));
        repair.removes = ids;
    } else {
        // A hole: only one side of it can be replayed onto the snapshot, the side that
        // holds the snapshot's offset (the replay base). Cut the other, nothing more.
        let base = meta.as_ref().map_or(0, |m| m.base.offset);
        let (kept, dropped) = contiguous_part(&ids, base);
        if !dropped.is_empty() {
            damage.push(format!(
                "the log has a hole: kept chunks {}..{} (they hold the replay base {base}), discarded {} chunks outside them",
                kept.first().map_or(0, |id| id.start),
                kept.last().map_or(0, |id| id.end),
                dropped.len()
            ));
            repair.removes.extend_from_slice(&dropped);
        }
        if let Some((&last, whole)) = kept.split_last() {
            for id in whole {
                debug_assert!(
                    index.values().next_back().is_none_or(|&e| e == id.start) && id.end >= id.start,
                    "contiguous_part hands over one contiguous run"
                );
                index.insert(id.start, id.end);
                end = id.end;
            }
            if let Some(last_end) =
                check_last_chunk(store, last, &mut index, &mut repair, &mut damage)?
            {
                end = last_end;
            }
        }
    }
    if let Some(noted) = store.noted_durable_end()
        && noted > end
        && meta.is_some()
    {
        damage.push(format!(
            "the log was durable up to offset {noted} but the store holds it only up to {end}: {} bytes were lost to damage in the store",
            noted - end
        ));
    }
    let start = index
        .keys()
        .next()
        .copied()
        .unwrap_or(meta.as_ref().map_or(end, |m| m.log_start));
    Ok(Checked {
        meta,
        index,
        start,
        end,
        damage,
        repair,
    })
}

/// The metadata, or `None` (with the reason in `damage`) when it does not decode.
fn read_meta(
    store: &dyn LogStore,
    damage: &mut Vec<String>,
) -> Result<Option<LogMeta>, StoreError> {
    let Some(bytes) = store.meta()? else {
        return Ok(None);
    };
    Ok(match LogMeta::decode(&bytes) {
        Ok(meta) => Some(meta),
        Err(e) => {
            damage.push(format!("replication metadata unreadable: {e}"));
            None
        }
    })
}

/// Reads the last chunk through. Returns the end of what it holds that can be trusted, or
/// `None` when nothing of it is kept; a damaged chunk is removed and, when records before
/// the damage survive, rewritten with those only.
fn check_last_chunk(
    store: &dyn LogStore,
    id: ChunkId,
    index: &mut ChunkIndex,
    repair: &mut StoreBatch,
    damage: &mut Vec<String>,
) -> Result<Option<u64>, StoreError> {
    // One that fails the store's check still gives its records that pass their own CRCs.
    let (value, chunk_damage) = match store.chunk(id) {
        Ok(Some(value)) => (value, None),
        Ok(None) => return Ok(None),
        Err(StoreError::Corrupt(reason)) => match store.chunk_unchecked(id) {
            Some(raw) => (raw, Some(reason)),
            None => {
                damage.push(format!(
                    "last log chunk {}..{} is damaged ({reason}): cut before it",
                    id.start, id.end
                ));
                repair.removes.push(id);
                return Ok(None);
            }
        },
        Err(e) => return Err(e),
    };
    let (mut records, mut error) = split_records(&value);
    if let Some(reason) = chunk_damage {
        keep_salvageable(&mut records);
        error.get_or_insert(RecordError::Damaged(reason));
    }
    let contiguous = records.first().is_none_or(|r| r.start_offset == id.start)
        && records
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.end_offset() == b.start_offset));
    let good_end = records
        .last()
        .map(Record::end_offset)
        .filter(|_| contiguous);
    if error.is_none() && good_end == Some(id.end) {
        index.insert(id.start, id.end);
        return Ok(Some(id.end));
    }
    damage.push(format!(
        "last log chunk {}..{} is damaged ({}): cut after offset {}",
        id.start,
        id.end,
        error.map_or("records do not match its key".to_string(), |e| e
            .to_string()),
        good_end.unwrap_or(id.start)
    ));
    repair.removes.push(id);
    if good_end.is_some() {
        // Rewritten with its good records only.
        let mut builder = ChunkBuilder::default();
        for record in &records {
            if let Some(closed) = builder.push(record) {
                repair.puts.push(closed);
            }
        }
        repair.puts.extend(builder.take());
        for (cid, _) in &repair.puts {
            index.insert(cid.start, cid.end);
        }
    }
    Ok(good_end)
}

/// Of the records of a chunk that failed its CRC (each passed its own), keeps those that can
/// be trusted: record CRCs cover payloads only, and a damaged header byte shows as a history
/// that changes inside the chunk; nothing from there on is kept.
pub(super) fn keep_salvageable(records: &mut Vec<Record>) {
    let first_replid = records.first().map(|r| r.replid);
    if let Some(at) = records
        .iter()
        .position(|r| Some(&r.replid) != first_replid.as_ref())
    {
        records.truncate(at);
    }
}

/// Splits `ids` (ascending) at its holes and keeps one contiguous run: the one that holds
/// `base`, else the first. Returns (kept, dropped).
fn contiguous_part(ids: &[ChunkId], base: u64) -> (Vec<ChunkId>, Vec<ChunkId>) {
    let mut runs: Vec<Vec<ChunkId>> = Vec::new();
    let mut dropped = Vec::new();
    for id in ids.iter().copied() {
        if id.end < id.start {
            // A key that contradicts itself belongs to no run.
            dropped.push(id);
            continue;
        }
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|last| last.end == id.start) => run.push(id),
            _ => runs.push(vec![id]),
        }
    }
    let holds_base = |run: &Vec<ChunkId>| {
        run.first().is_some_and(|f| f.start <= base) && run.last().is_some_and(|l| base <= l.end)
    };
    let keep = runs.iter().position(holds_base).unwrap_or(0);
    let mut kept = Vec::new();
    for (i, run) in runs.into_iter().enumerate() {
        if i == keep {
            kept = run;
        } else {
            dropped.extend(run);
        }
    }
    (kept, dropped)
}
