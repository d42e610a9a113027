//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod build;
pub mod redis;

use std::path::PathBuf;

use sluice_rdb::{DecodeError, DecodeLimits, Decoder, Item};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub const FIXTURES: &[&str] = &[
    "redis7_encodings",
    "redis7_nocompress_nocrc_lfu",
    "redis7_empty",
    "redis8_field_expiry",
];

pub fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("{name}.rdb"))).expect("fixture file")
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Decodes `data` pushed in chunks whose sizes cycle through `sizes`, draining items after
/// every push, the way a socket reader would.
pub fn decode_chunked(
    data: &[u8],
    sizes: &[usize],
    limits: DecodeLimits,
) -> Result<Vec<Item>, DecodeError> {
    let mut dec = Decoder::new(limits);
    let mut items = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = sizes[i % sizes.len()].max(1).min(data.len() - pos);
        i += 1;
        dec.push(&data[pos..pos + n]);
        pos += n;
        while let Some(item) = dec.next_item()? {
            items.push(item);
        }
    }
    dec.finish()?;
    Ok(items)
}

/// Decodes with every chunk size in `sizes` and in one piece, asserting all agree.
pub fn decode_every_way(data: &[u8]) -> Result<Vec<Item>, DecodeError> {
    let whole = sluice_rdb::decode_all(data, DecodeLimits::default());
    for sizes in [&[1usize][..], &[7, 1, 3000, 2], &[65536]] {
        let chunked = decode_chunked(data, sizes, DecodeLimits::default());
        assert_eq!(
            chunked, whole,
            "chunk sizes {sizes:?} disagree with one-piece decoding"
        );
    }
    whole
}
