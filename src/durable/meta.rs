//! The replication metadata kept beside the log chunks, written in the same atomic batch as
//! the records it describes: the current ids, where the store's log starts, and the base the
//! log replays from (the newest snapshot, or the empty dataset the log began with).

use bytes::Bytes;
use thiserror::Error;

use sluice_rdb::crc::crc64;

use crate::log::{ReplId, ReplIds};

const MAGIC: &str = "sluice-log-meta 1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBase {
    /// Log offset of the dataset the log replays onto.
    pub offset: u64,
    /// History the base belongs to (the RDB's `repl-id`); zeros for an empty base that
    /// belongs to none.
    pub replid: ReplId,
    /// The base is the empty dataset (a fresh start), not an RDB file.
    pub empty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMeta {
    pub ids: ReplIds,
    /// Offset before the first byte the store holds; with no chunks also its end.
    pub log_start: u64,
    pub base: LogBase,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MetaError {
    #[error("log metadata is not in the expected format: {0}")]
    Format(String),
    #[error("log metadata CRC mismatch")]
    Crc,
}

impl LogMeta {
    pub fn encode(&self) -> Bytes {
        let body = format!(
            "{MAGIC}\nreplid {}\nreplid2 {}\nsecond_replid_offset {}\nlog_start {}\nbase_offset {}\nbase_replid {}\nbase_empty {}\n",
            self.ids.replid,
            self.ids.replid2,
            self.ids.second_replid_offset,
            self.log_start,
            self.base.offset,
            self.base.replid,
            u8::from(self.base.empty),
        );
        let crc = crc64(body.as_bytes());
        Bytes::from(format!("{body}crc {crc:016x}\n"))
    }

    pub fn decode(bytes: &[u8]) -> Result<LogMeta, MetaError> {
        let text = std::str::from_utf8(bytes).map_err(|_| MetaError::Format("not UTF-8".into()))?;
        let crc_at = text
            .rfind("crc ")
            .ok_or_else(|| MetaError::Format("no crc line".into()))?;
        let (body, crc_line) = text.split_at(crc_at);
        let stored = u64::from_str_radix(crc_line.trim_start_matches("crc ").trim_end(), 16)
            .map_err(|_| MetaError::Format("bad crc line".into()))?;
        if stored != crc64(body.as_bytes()) {
            return Err(MetaError::Crc);
        }
        let mut lines = body.lines();
        if lines.next() != Some(MAGIC) {
            return Err(MetaError::Format("unknown version".into()));
        }
        let mut field = |name: &str| -> Result<String, MetaError> {
            let line = lines
                .next()
                .ok_or_else(|| MetaError::Format(format!("missing {name}")))?;
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(|| MetaError::Format(format!("expected {name}, found {line:?}")))
        };
        fn number<T: std::str::FromStr>(name: &str, text: String) -> Result<T, MetaError> {
            text.parse()
                .map_err(|_| MetaError::Format(format!("{name}: {text:?} is not a number")))
        }
        fn id(name: &str, text: String) -> Result<ReplId, MetaError> {
            ReplId::parse_str(&text)
                .ok_or_else(|| MetaError::Format(format!("{name}: {text:?} is not a replid")))
        }
        let replid = id("replid", field("replid")?)?;
        let replid2 = id("replid2", field("replid2")?)?;
        let second_replid_offset = number("second_replid_offset", field("second_replid_offset")?)?;
        let log_start = number("log_start", field("log_start")?)?;
        let base_offset = number("base_offset", field("base_offset")?)?;
        // Written empty by earlier versions for a base with no history.
        let base_replid = ReplId::parse_str(&field("base_replid")?).unwrap_or(ReplId::ZERO);
        let base_empty: u8 = number("base_empty", field("base_empty")?)?;
        Ok(LogMeta {
            ids: ReplIds {
                replid,
                replid2,
                second_replid_offset,
            },
            log_start,
            base: LogBase {
                offset: base_offset,
                replid: base_replid,
                empty: base_empty == 1,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let meta = LogMeta {
            ids: ReplIds {
                replid: ReplId::parse_str(&"a".repeat(40)).unwrap(),
                replid2: ReplId::ZERO,
                second_replid_offset: -1,
            },
            log_start: 12,
            base: LogBase {
                offset: 40,
                replid: ReplId::parse_str(&"a".repeat(40)).unwrap(),
                empty: true,
            },
        };
        let encoded = meta.encode();
        assert_eq!(LogMeta::decode(&encoded).unwrap(), meta);
        let mut damaged = encoded.to_vec();
        damaged[30] ^= 1;
        assert!(LogMeta::decode(&damaged).is_err());
        assert!(LogMeta::decode(&encoded[..20]).is_err());
    }
}
