//! Fuzzes the RDB decoder: no input may panic it or make it allocate past its limits, feeding
//! the same bytes in pieces must give the same items (or the same error) as feeding them at
//! once, and whatever decodes must survive a trip through the encoder unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_rdb::{DecodeError, DecodeLimits, Decoder, Encoder, EncoderOptions, Item, RdbValue};

/// Small caps so that limit checks are reached by small inputs, and so that no input can
/// reach the 2 GiB RSS limit.
const LIMITS: DecodeLimits = DecodeLimits {
    string_bytes_max: 1 << 20,
    value_bytes_max: 1 << 22,
    elements_max: 1 << 16,
};

fn run(chunks: &[&[u8]]) -> (Vec<Item>, Result<(), DecodeError>) {
    let mut dec = Decoder::new(LIMITS);
    let mut items = Vec::new();
    for chunk in chunks {
        dec.push(chunk);
        loop {
            match dec.next_item() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, Err(e)),
            }
        }
    }
    let end = dec.finish();
    (items, end)
}

/// A value with unordered collections sorted (the encoder may reorder them, and dedups
/// integer sets).
#[derive(Debug, PartialEq)]
enum Canon {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(std::collections::BTreeSet<Vec<u8>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Scores(Vec<(Vec<u8>, u64)>),
}

fn canon(v: &RdbValue) -> Option<Canon> {
    Some(match v {
        RdbValue::String(s) => Canon::Str(s.to_vec()),
        RdbValue::List(l) if !l.is_empty() => Canon::List(l.iter().map(|b| b.to_vec()).collect()),
        RdbValue::Set(s) if !s.is_empty() => Canon::Set(s.iter().map(|b| b.to_vec()).collect()),
        RdbValue::Hash(h) if !h.is_empty() => {
            let mut p: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            p.sort();
            Canon::Pairs(p)
        }
        RdbValue::SortedSet(z) if !z.is_empty() => {
            // +0.0 and -0.0 are the same score.
            let mut p: Vec<_> = z
                .iter()
                .map(|(m, s)| (m.to_vec(), (s + 0.0).to_bits()))
                .collect();
            p.sort();
            Canon::Scores(p)
        }
        _ => return None,
    })
}

fn reencode(items: &[Item]) {
    let mut enc = Encoder::new(EncoderOptions {
        chunk_size_bytes: 4096,
        compress_lzf: true,
        ..EncoderOptions::default()
    });
    let mut want = Vec::new();
    for item in items {
        if let Item::Entry(e) = item {
            let Some(c) = canon(&e.value) else { continue };
            enc.select_db(e.db);
            enc.write_value(&e.key, &e.value, e.expire_at_ms)
                .expect("decoded values re-encode");
            want.push((e.db, e.key.to_vec(), c, e.expire_at_ms));
        }
    }
    let file = enc.finish().concat();
    let (again, end) = run(&[&file]);
    end.expect("encoder output decodes");
    let got: Vec<_> = again
        .iter()
        .filter_map(|i| match i {
            Item::Entry(e) => Some((e.db, e.key.to_vec(), canon(&e.value)?, e.expire_at_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(got, want);
}

fuzz_target!(|data: &[u8]| {
    let whole = run(&[data]);
    let step = 1 + data.last().map_or(0, |b| usize::from(*b) % 13);
    let pieces: Vec<&[u8]> = data.chunks(step).collect();
    let chunked = run(&pieces);
    assert_eq!(whole, chunked, "chunking by {step} changed the outcome");
    if whole.1.is_ok() {
        reencode(&whole.0);
    }
});
