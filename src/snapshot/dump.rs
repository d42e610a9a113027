//! DUMP and RESTORE payloads: one value as an RDB file stores it (type byte, then the value,
//! no key), then the RDB version (2 bytes, little-endian) and a CRC-64 of everything before
//! it (8 bytes, little-endian), as Redis's `createDumpPayload` writes them. Payloads are
//! interchangeable with Redis's: both sides write RDB 10 encodings.
//!
//! Both directions go through the RDB codec: the value is written as a one-key RDB with an
//! empty key name and cut out of it, and a payload is read by wrapping it into such a file.

use bytes::Bytes;
use sluice_rdb::crc::crc64;
use sluice_rdb::{
    DecodeLimits, EncodeError, Encoder, EncoderOptions, Item, RDB_VERSION_READ_MAX,
    VALKEY_RDB_VERSION_READ,
};

use super::load::convert_value;
use super::view::{RDB_VERSION_WITH_FIELD_TIMES, write_value};
use crate::store::Value;
use crate::store::zset::CompactLimits;

/// The version DUMP writes: Redis 7.0's, unless a hash has field times (Redis 7.4's format).
const DUMP_RDB_VERSION: u32 = 10;
/// `REDIS` and four digits.
const RDB_HEADER_BYTES: usize = 9;
/// RDB version and CRC-64.
const FOOTER_BYTES: usize = 10;
const EOF_OPCODE: u8 = 0xFF;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The footer names a version this server cannot read, or the checksum does not match.
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The value does not decode, or is an empty collection.
    #[error("Bad data format")]
    BadFormat,
}

/// The DUMP payload of `value`.
pub fn dump(value: &Value, compress_lzf: bool) -> Result<Bytes, EncodeError> {
    let field_times = matches!(value, Value::Hash(h) if h.has_field_expiry());
    let rdb_version = if field_times {
        RDB_VERSION_WITH_FIELD_TIMES
    } else {
        DUMP_RDB_VERSION
    };
    let mut encoder = Encoder::new(EncoderOptions {
        compress_lzf,
        rdb_version,
        ..EncoderOptions::default()
    });
    write_value(&mut encoder, b"", value, None, field_times)?;
    let rdb: Vec<u8> = encoder.finish().concat();
    // header | type | key "" (one byte, 0) | value | EOF | CRC-64
    let value_end = rdb.len() - 9;
    assert!(
        rdb.len() > RDB_HEADER_BYTES + 2 + 9
            && rdb[RDB_HEADER_BYTES + 1] == 0
            && rdb[value_end] == EOF_OPCODE,
        "a one-key RDB with an empty key name"
    );
    let mut payload = Vec::with_capacity(value_end - RDB_HEADER_BYTES - 1 + FOOTER_BYTES);
    payload.push(rdb[RDB_HEADER_BYTES]);
    payload.extend_from_slice(&rdb[RDB_HEADER_BYTES + 2..value_end]);
    let version = u16::try_from(rdb_version).unwrap_or(u16::MAX);
    payload.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    Ok(Bytes::from(payload))
}

/// The value a RESTORE payload holds. Versions up to the newest this server reads are
/// accepted (Redis 7.0 takes only its own 10 and older), so payloads from Redis 7.2 to 8.x
/// restore too, and Valkey 8 and 9's (format 80). Bytes after the value are refused (Redis
/// ignores them).
pub fn restore(payload: &[u8], zset_limits: CompactLimits) -> Result<Value, RestoreError> {
    let Some(body_len) = payload.len().checked_sub(FOOTER_BYTES) else {
        return Err(RestoreError::VersionOrChecksum);
    };
    let (body, footer) = payload.split_at(body_len);
    let version = u32::from(u16::from_le_bytes([footer[0], footer[1]]));
    let crc_at = payload.len() - 8;
    let stored_crc = u64::from_le_bytes(
        payload[crc_at..]
            .try_into()
            .map_err(|_| RestoreError::VersionOrChecksum)?,
    );
    // Valkey 8 and 9 number their format 80 (`VALKEY080` in a file).
    let header = if version == VALKEY_RDB_VERSION_READ {
        format!("VALKEY{version:03}")
    } else if version <= RDB_VERSION_READ_MAX {
        format!("REDIS{:04}", version.max(1))
    } else {
        return Err(RestoreError::VersionOrChecksum);
    };
    if crc64(&payload[..crc_at]) != stored_crc {
        return Err(RestoreError::VersionOrChecksum);
    }
    // The type byte must name a value: anything else would be read as an opcode.
    let Some((&type_byte, value)) = body.split_first() else {
        return Err(RestoreError::BadFormat);
    };
    if type_byte >= 0xF0 {
        return Err(RestoreError::BadFormat);
    }
    let mut rdb = Vec::with_capacity(body.len() + 20);
    rdb.extend_from_slice(header.as_bytes());
    rdb.push(type_byte);
    rdb.push(0);
    rdb.extend_from_slice(value);
    rdb.push(EOF_OPCODE);
    // A zero CRC means "not computed": the payload's own was checked above.
    rdb.extend_from_slice(&[0; 8]);
    let items = sluice_rdb::decode_all(&rdb, DecodeLimits::default())
        .map_err(|_| RestoreError::BadFormat)?;
    let mut entries = items.into_iter().filter(|i| !matches!(i, Item::End(_)));
    let (Some(Item::Entry(entry)), None) = (entries.next(), entries.next()) else {
        return Err(RestoreError::BadFormat);
    };
    match convert_value(0, b"", entry.value, zset_limits) {
        Ok(Some(value)) => Ok(value),
        // An empty collection, or one with repeated elements.
        Ok(None) | Err(_) => Err(RestoreError::BadFormat),
    }
}

/// The FUNCTION DUMP payload of libraries given by their code: each as an RDB stores it
/// (the FUNCTION2 opcode and the code), then the RDB version and CRC-64, as Redis writes it.
pub fn dump_functions(codes: &[Bytes], compress_lzf: bool) -> Bytes {
    let mut encoder = Encoder::new(EncoderOptions {
        compress_lzf,
        rdb_version: DUMP_RDB_VERSION,
        ..EncoderOptions::default()
    });
    for code in codes {
        encoder.write_function(code);
    }
    let rdb: Vec<u8> = encoder.finish().concat();
    // header | functions | EOF | CRC-64
    let body_end = rdb.len() - 9;
    assert!(
        rdb.len() >= RDB_HEADER_BYTES + 9 && rdb[body_end] == EOF_OPCODE,
        "an RDB of functions only"
    );
    let mut payload = Vec::with_capacity(body_end - RDB_HEADER_BYTES + FOOTER_BYTES);
    payload.extend_from_slice(&rdb[RDB_HEADER_BYTES..body_end]);
    let version = u16::try_from(DUMP_RDB_VERSION).unwrap_or(u16::MAX);
    payload.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    Bytes::from(payload)
}

/// Why a FUNCTION RESTORE payload was refused, worded as Redis words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionRestoreError {
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    #[error("given type is not a function")]
    NotAFunction,
    #[error("failed loading the given functions payload")]
    BadFormat,
}

/// The libraries' code a FUNCTION DUMP payload holds.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Bytes>, FunctionRestoreError> {
    let body_len = payload
        .len()
        .checked_sub(FOOTER_BYTES)
        .ok_or(FunctionRestoreError::VersionOrChecksum)?;
    let version = u32::from(u16::from_le_bytes([
        payload[body_len],
        payload[body_len + 1],
    ]));
    let crc_at = payload.len() - 8;
    let stored_crc = u64::from_le_bytes(
        payload[crc_at..]
            .try_into()
            .map_err(|_| FunctionRestoreError::VersionOrChecksum)?,
    );
    if version > RDB_VERSION_READ_MAX || crc64(&payload[..crc_at]) != stored_crc {
        return Err(FunctionRestoreError::VersionOrChecksum);
    }
    let body = &payload[..body_len];
    let mut rdb = Vec::with_capacity(body.len() + 20);
    rdb.extend_from_slice(format!("REDIS{:04}", version.max(1)).as_bytes());
    rdb.extend_from_slice(body);
    rdb.push(EOF_OPCODE);
    // A zero CRC means "not computed": the payload's own was checked above.
    rdb.extend_from_slice(&[0; 8]);
    let items = sluice_rdb::decode_all(&rdb, DecodeLimits::default())
        .map_err(|_| FunctionRestoreError::BadFormat)?;
    items
        .into_iter()
        .filter(|item| !matches!(item, Item::End(_)))
        .map(|item| match item {
            Item::Function(code) => Ok(code),
            _ => Err(FunctionRestoreError::NotAFunction),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StrValue;

    fn limits() -> CompactLimits {
        CompactLimits {
            max_entries: 128,
            max_value_bytes: 64,
        }
    }

    /// `DUMP` of the string "hello" on redis-server 7.0.15.
    const REDIS_HELLO: &[u8] = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";

    #[test]
    fn a_string_dumps_as_redis_dumps_it() {
        let value = Value::Str(StrValue::from(Bytes::from_static(b"hello")));
        let payload = dump(&value, true).expect("a string encodes");
        assert_eq!(&payload[..], REDIS_HELLO);
        let back = restore(&payload, limits()).expect("its own payload restores");
        assert!(matches!(back, Value::Str(s) if s.as_bytes() == b"hello"));
    }

    #[test]
    fn damage_is_refused() {
        let mut bad_crc = REDIS_HELLO.to_vec();
        bad_crc[3] ^= 1;
        assert_eq!(
            restore(&bad_crc, limits()).err(),
            Some(RestoreError::VersionOrChecksum)
        );
        assert_eq!(
            restore(b"short", limits()).err(),
            Some(RestoreError::VersionOrChecksum)
        );
        // A version this server does not read.
        let mut newer = b"\x00\x05hello".to_vec();
        newer.extend_from_slice(&99u16.to_le_bytes());
        let crc = crc64(&newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore(&newer, limits()).err(),
            Some(RestoreError::VersionOrChecksum)
        );
        // Checksum right, value truncated or an opcode for a type.
        for body in [&b"\x00\x05hel"[..], b"\xfe\x00", b"\x00\x05hello\x00"] {
            let mut p = body.to_vec();
            p.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            assert_eq!(restore(&p, limits()).err(), Some(RestoreError::BadFormat));
        }
    }
}
