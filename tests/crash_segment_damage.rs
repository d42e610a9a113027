//! Damage to the durable log's segment files after a kill -9: a byte flipped in a record, a
//! file cut short, at several places. Damage is cut exactly: the records before the damaged
//! one are replayed (every write they hold is back), the damaged record and what follows it
//! in that history are not (the replay cannot jump over a hole), and damage that lies wholly
//! below the snapshot costs nothing. Each case asserts exactly which acknowledged writes
//! survive, computed from the files themselves.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use common::journal::{
    KilledMaster, StoredRecord, flip_byte, killed_master, present, records, segment_files,
    start_on, truncate,
};

const POST_KEYS: usize = 1500;

/// The post-snapshot records of the last segment, in order, and that segment's path.
fn last_segment_records(dir: &std::path::Path) -> (std::path::PathBuf, Vec<StoredRecord>) {
    let files = segment_files(dir);
    let last = files.last().expect("a segment file").clone();
    let post: Vec<StoredRecord> = records(&last)
        .into_iter()
        .filter(|r| !r.keys_with("post:").is_empty())
        .collect();
    assert!(
        post.len() > 100,
        "the post keys should be in the last segment"
    );
    (last, post)
}

/// The post keys of the records before `index` (all of them when None).
fn keys_before(records: &[StoredRecord], index: Option<usize>) -> Vec<String> {
    records[..index.unwrap_or(records.len())]
        .iter()
        .flat_map(|r| r.keys_with("post:"))
        .collect()
}

fn check(killed: &KilledMaster, name: &str, dir: &std::path::Path, expected: &[String]) {
    let server = start_on(dir);
    let mut client = server.client();
    let found = present(&mut client, &killed.post_keys);
    let log = server.log_text();
    assert_eq!(
        found.len(),
        expected.len(),
        "{name}: {} post-snapshot writes survived, {} expected; log:\n{log}",
        found.len(),
        expected.len()
    );
    assert_eq!(found, expected, "{name}: not exactly the expected writes");
    // The snapshot's data is all there.
    let pre = (0..killed.pre_keys)
        .filter(|i| client.cmd(&["EXISTS", &format!("pre:{i:02}")]).int() == Some(1))
        .count();
    assert_eq!(pre, killed.pre_keys, "{name}: snapshot data lost");
    if expected.len() < killed.post_keys.len() {
        assert!(
            [
                "damaged",
                "CRC",
                "do not read",
                "replay stopped",
                "hole",
                "were lost"
            ]
            .iter()
            .any(|w| log.contains(w)),
            "{name}: writes were cut without a word in the log:\n{log}"
        );
    }
}

#[test]
fn a_flipped_byte_costs_exactly_the_damaged_record_and_what_follows() {
    let killed = killed_master(POST_KEYS);
    for percent in [20, 60, 90] {
        let copy = killed.copy("segment-flip");
        let (last, post) = last_segment_records(copy.path());
        let victim = post.len() * percent / 100;
        let record = &post[victim];
        // In the payload: the record's own CRC fails, and its chunk's.
        flip_byte(&last, record.pos + 64 + record.payload.len() / 2);
        check(
            &killed,
            &format!("flip at {percent}%"),
            copy.path(),
            &keys_before(&post, Some(victim)),
        );
    }
}

#[test]
fn a_segment_cut_short_costs_exactly_what_was_cut() {
    let killed = killed_master(POST_KEYS);
    let copy = killed.copy("segment-cut");
    let (last, post) = last_segment_records(copy.path());
    // Inside a record: it and everything after are gone, the ones before stay.
    let victim = post.len() / 2;
    truncate(&last, (post[victim].pos + 30) as u64);
    check(
        &killed,
        "cut inside a record",
        copy.path(),
        &keys_before(&post, Some(victim)),
    );

    let copy = killed.copy("segment-cut-boundary");
    let (last, post) = last_segment_records(copy.path());
    let victim = post.len() * 3 / 4;
    truncate(&last, post[victim].pos as u64);
    check(
        &killed,
        "cut at a record boundary",
        copy.path(),
        &keys_before(&post, Some(victim)),
    );
}

#[test]
fn damage_wholly_below_the_snapshot_costs_nothing() {
    let killed = killed_master(POST_KEYS);
    let all = killed.post_keys.clone();
    // The first segment holds only writes from before the snapshot (16 MiB of the 18 MB).
    let copy = killed.copy("first-segment-cut");
    let first = segment_files(copy.path())[0].clone();
    assert!(
        records(&first)
            .iter()
            .all(|r| r.keys_with("post:").is_empty()),
        "the first segment should lie below the snapshot"
    );
    let len = std::fs::metadata(&first).map_or(0, |m| m.len());
    truncate(&first, len / 2);
    check(&killed, "first segment cut in half", copy.path(), &all);

    let copy = killed.copy("first-segment-flip");
    let first = segment_files(copy.path())[0].clone();
    let record = records(&first)[3].clone();
    flip_byte(&first, record.pos + 64 + record.payload.len() / 2);
    check(&killed, "a flip in the first segment", copy.path(), &all);
}
