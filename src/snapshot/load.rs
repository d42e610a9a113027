//! Loading an RDB byte stream into a fresh keyspace: the decoder's items become sluice
//! values in new databases that the caller swaps in only once the whole stream loaded.
//!
//! A dataset holding something sluice does not serve (modules, function libraries)
//! is refused as a whole with a message naming what and where: silently dropping keys would
//! leave a replica that looks in sync but is not.

use std::sync::Arc;

use bytes::Bytes;
use sluice_rdb::{DecodeError, DecodeLimits, Decoder, Item, KeyEntry, RdbValue};
use thiserror::Error;

use crate::store::value::{Hash, Set};
use crate::store::zset::CompactLimits;
use crate::store::{Db, Entry, StrValue, Value, ZSet};

#[derive(Debug, Clone, PartialEq, Error)]
pub enum LoadError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error(
        "key '{key}' in db {db} holds a {type_name}, a type sluice does not serve: the dataset is refused (nothing is dropped)"
    )]
    UnsupportedType {
        db: u32,
        key: String,
        type_name: &'static str,
    },
    #[error(
        "the dataset uses db {db} but this server has {databases} databases (config 'databases')"
    )]
    DbOutOfRange { db: u32, databases: usize },
    #[error("duplicate key '{key}' in db {db}")]
    DuplicateKey { db: u32, key: String },
    #[error("{type_name} '{key}' in db {db} repeats a member or field")]
    DuplicateElement {
        db: u32,
        key: String,
        type_name: &'static str,
    },
    #[error("stream '{key}' in db {db} is inconsistent: {source}")]
    Stream {
        db: u32,
        key: String,
        source: super::stream_model::StreamModelError,
    },
    #[error("RDB stream ended before its EOF opcode after {bytes} bytes")]
    Truncated { bytes: u64 },
}

/// How values are built.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub databases: usize,
    /// Sorted sets that fit these limits are marked compact, as Redis converts them to a
    /// listpack on load.
    pub zset_limits: CompactLimits,
}

impl LoadOptions {
    pub fn from_config(config: &crate::config::Config) -> LoadOptions {
        let number = |name: &str, default: usize| {
            config
                .get(name)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(default)
        };
        LoadOptions {
            databases: config.databases.max(1),
            zset_limits: CompactLimits {
                max_entries: number("zset-max-listpack-entries", 128),
                max_value_bytes: number("zset-max-listpack-value", 64),
            },
        }
    }
}

/// What a complete load produced.
#[derive(Debug)]
pub struct Loaded {
    pub dbs: Vec<Db>,
    pub keys: u64,
    /// Keys loaded with an expiry already in the past (kept: a replica hides them, its
    /// master will send their DEL).
    pub keys_already_expired: u64,
    /// Empty collections, which Redis never writes and skips on load.
    pub empty_keys_skipped: u64,
    /// AUX `repl-stream-db`: the db selected in the master's stream at the snapshot.
    pub stream_db: Option<u32>,
    pub repl_id: Option<String>,
    pub repl_offset: Option<u64>,
    pub rdb_version: Option<u32>,
    /// Bytes of the RDB (up to and including its CRC).
    pub rdb_bytes: u64,
    /// Function libraries' code, to be compiled into the registry on install.
    pub functions: Vec<Bytes>,
}

/// Builds databases from RDB input pushed in chunks of any size.
pub struct Loader {
    decoder: Decoder,
    options: LoadOptions,
    dbs: Vec<Db>,
    keys: u64,
    keys_already_expired: u64,
    empty_keys_skipped: u64,
    stream_db: Option<u32>,
    /// The database of the last SELECTDB, which a RESIZEDB that follows sizes.
    selected_db: Option<usize>,
    repl_id: Option<String>,
    repl_offset: Option<u64>,
    functions: Vec<Bytes>,
    now_ms: u64,
    failed: Option<LoadError>,
}

impl Loader {
    pub fn new(options: LoadOptions) -> Loader {
        // Strings come as slices of the input: what the keyspace keeps is detached by
        // `convert_value`, and packed hashes copy their elements anyway, so detaching
        // everything in the decoder would allocate twice for them.
        let decoder = Decoder::new(DecodeLimits::default());
        Loader {
            decoder,
            options,
            dbs: (0..options.databases.max(1)).map(|_| Db::new()).collect(),
            keys: 0,
            keys_already_expired: 0,
            empty_keys_skipped: 0,
            stream_db: None,
            selected_db: None,
            repl_id: None,
            repl_offset: None,
            functions: Vec::new(),
            now_ms: crate::server::unix_time_ms(),
            failed: None,
        }
    }

    /// Feeds input and applies every item it completes. Once an error was returned every
    /// later call returns it again.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), LoadError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.decoder.push(chunk);
        let result = self.drain();
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn drain(&mut self) -> Result<(), LoadError> {
        while let Some(item) = self.decoder.next_item()? {
            self.apply(item)?;
        }
        Ok(())
    }

    fn apply(&mut self, item: Item) -> Result<(), LoadError> {
        match item {
            Item::Aux { key, value } => self.aux(&key, &value),
            Item::SelectDb(db) => {
                self.selected_db = Some(self.check_db(db)?);
            }
            Item::ResizeDb { db_size, .. } => {
                if let Some(db) = self.selected_db.and_then(|index| self.dbs.get_mut(index)) {
                    db.reserve(db_size);
                }
            }
            // The input's buffer is not kept: the code is copied out of it.
            Item::Function(code) => self.functions.push(Bytes::copy_from_slice(&code)),
            Item::Entry(entry) => self.entry(entry)?,
            Item::SlotInfo { .. } | Item::End(_) => {}
        }
        Ok(())
    }

    fn aux(&mut self, key: &[u8], value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        match key {
            // Redis writes -1 when no db was selected in its stream yet.
            b"repl-stream-db" => self.stream_db = text.parse::<u32>().ok(),
            b"repl-id" => self.repl_id = Some(text.into_owned()),
            b"repl-offset" => self.repl_offset = text.parse::<u64>().ok(),
            _ => {}
        }
    }

    fn check_db(&self, db: u32) -> Result<usize, LoadError> {
        let index = db as usize;
        if index >= self.dbs.len() {
            return Err(LoadError::DbOutOfRange {
                db,
                databases: self.dbs.len(),
            });
        }
        Ok(index)
    }

    fn entry(&mut self, entry: KeyEntry) -> Result<(), LoadError> {
        let index = self.check_db(entry.db)?;
        let KeyEntry {
            db,
            key,
            value,
            expire_at_ms,
            ..
        } = entry;
        // The keyspace copies the key into its own slot: no need to detach it first.
        let Some(value) = convert_value(db, &key, value, self.options.zset_limits)? else {
            self.empty_keys_skipped += 1;
            return Ok(());
        };
        if expire_at_ms.is_some_and(|at| at <= self.now_ms) {
            self.keys_already_expired += 1;
        }
        let previous = self.dbs[index].insert(
            &key,
            Entry {
                value,
                expire_at_ms,
            },
        );
        if previous.is_some() {
            return Err(LoadError::DuplicateKey {
                db,
                key: printable(&key),
            });
        }
        self.keys += 1;
        Ok(())
    }

    /// Input consumed by the decoder so far.
    pub fn offset(&self) -> u64 {
        self.decoder.offset()
    }

    /// True once the RDB's EOF opcode and CRC were read.
    pub fn is_done(&self) -> bool {
        self.decoder.is_done()
    }

    /// Bytes pushed after the end of the RDB.
    pub fn take_remainder(&mut self) -> Bytes {
        self.decoder.take_remainder()
    }

    /// Keys loaded so far.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The input has ended: the databases, if the RDB was complete and valid.
    pub fn finish(self) -> Result<Loaded, LoadError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match self.decoder.finish() {
            Ok(()) => {}
            Err(DecodeError::Truncated { offset }) => {
                return Err(LoadError::Truncated { bytes: offset });
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Loaded {
            rdb_version: self.decoder.version(),
            rdb_bytes: self.decoder.offset(),
            dbs: self.dbs,
            keys: self.keys,
            keys_already_expired: self.keys_already_expired,
            empty_keys_skipped: self.empty_keys_skipped,
            stream_db: self.stream_db,
            repl_id: self.repl_id,
            repl_offset: self.repl_offset,
            functions: self.functions,
        })
    }
}

/// Loads a whole RDB held in memory.
pub fn load_bytes(data: &[u8], options: LoadOptions) -> Result<Loaded, LoadError> {
    let mut loader = Loader::new(options);
    loader.push(data)?;
    loader.finish()
}

/// The keyspace outlives the input buffers: a value sliced out of a 64 KiB read would pin
/// the whole read for as long as any of its neighbours lives. A string that owns its bytes
/// (a decompressed one) is kept as it is.
fn detach(b: Bytes) -> Bytes {
    if b.is_unique() {
        b
    } else {
        Bytes::copy_from_slice(&b)
    }
}

/// Converts one decoded value; `Ok(None)` for an empty collection (skipped, as Redis does).
/// Whatever the value keeps is detached from the input (see [`detach`]).
pub fn convert_value(
    db: u32,
    key: &[u8],
    value: RdbValue,
    zset_limits: CompactLimits,
) -> Result<Option<Value>, LoadError> {
    let duplicate = |type_name| LoadError::DuplicateElement {
        db,
        key: printable(key),
        type_name,
    };
    let value = match value {
        RdbValue::String(s) => return Ok(Some(Value::Str(StrValue::from(detach(s))))),
        RdbValue::List(items) => {
            if items.is_empty() {
                return Ok(None);
            }
            Value::List(Arc::new(items.into_iter().map(detach).collect()))
        }
        RdbValue::Set(members) => {
            if members.is_empty() {
                return Ok(None);
            }
            let declared = members.len();
            let mut set = Set::with_capacity_and_hasher(declared, Default::default());
            set.extend(members.into_iter().map(detach));
            if set.len() != declared {
                return Err(duplicate("set"));
            }
            Value::Set(Arc::new(set))
        }
        RdbValue::Hash(pairs) => {
            if pairs.is_empty() {
                return Ok(None);
            }
            let Some(mut hash) = Hash::from_unique_pairs(&pairs) else {
                return Err(duplicate("hash"));
            };
            hash.shrink_to_fit();
            Value::Hash(Arc::new(hash))
        }
        RdbValue::HashWithFieldExpiry(entries) => {
            if entries.is_empty() {
                return Ok(None);
            }
            let pairs: Vec<(&[u8], &[u8])> = entries
                .iter()
                .map(|e| (&e.field[..], &e.value[..]))
                .collect();
            let Some(mut hash) = Hash::from_unique_pairs(&pairs) else {
                return Err(duplicate("hash"));
            };
            // Fields whose time has passed are kept: a master's expiry deletes them (and
            // tells its replicas), a replica's master sends their HDEL.
            for entry in &entries {
                if let Some(at_ms) = entry.expire_at_ms {
                    hash.set_field_expiry(&entry.field, at_ms);
                }
            }
            hash.shrink_to_fit();
            Value::Hash(Arc::new(hash))
        }
        RdbValue::SortedSet(pairs) => {
            if pairs.is_empty() {
                return Ok(None);
            }
            // Decided before inserting, so that a set too large to be compact keeps a -0
            // score that a compact set would have turned into 0.
            let compact = pairs.len() <= zset_limits.max_entries
                && pairs
                    .iter()
                    .all(|(member, _)| member.len() <= zset_limits.max_value_bytes);
            let members = pairs.into_iter().map(|(m, s)| (detach(m), s)).collect();
            let Some(zset) = ZSet::from_unique_members(members, compact, zset_limits) else {
                return Err(duplicate("zset"));
            };
            Value::ZSet(Arc::new(zset))
        }
        RdbValue::Stream(stream) => match super::stream_model::from_rdb(*stream) {
            Ok(stream) => Value::Stream(Arc::new(stream)),
            Err(source) => {
                return Err(LoadError::Stream {
                    db,
                    key: printable(key),
                    source,
                });
            }
        },
    };
    Ok(Some(value))
}

/// A key for messages: lossy UTF-8, cut at 128 bytes.
fn printable(key: &[u8]) -> String {
    let cut = &key[..key.len().min(128)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if key.len() > cut.len() {
        text.push_str("...");
    }
    text
}

/// Read size of [`load_file`]: small enough that INFO's loading progress moves often.
const READ_CHUNK_BYTES: usize = 256 * 1024;
const PROGRESS_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and decodes the whole file, logging progress every second (and publishing it for
/// INFO when `progress` is given).
pub fn load_file(
    path: &std::path::Path,
    options: LoadOptions,
    progress: Option<&crate::server::persistence::LoadingProgress>,
) -> Result<Loaded, String> {
    let total_bytes = match progress {
        Some(p) => p.total_bytes,
        None => std::fs::metadata(path).map_or(0, |m| m.len()),
    };
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut loader = Loader::new(options);
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    let mut read_total = 0u64;
    let mut last_log = std::time::Instant::now();
    let mut last_log_bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read error after {read_total} bytes: {e}")),
        };
        if loader.is_done() {
            // Redis stops at the EOF opcode too; what follows is not part of the RDB.
            tracing::warn!(
                "{}: ignoring bytes after the end of the RDB at offset {}",
                path.display(),
                loader.offset()
            );
            break;
        }
        loader.push(&buf[..n]).map_err(|e| e.to_string())?;
        read_total += n as u64;
        if let Some(progress) = progress {
            progress
                .loaded_bytes
                .store(read_total, std::sync::atomic::Ordering::Relaxed);
        }
        let since = last_log.elapsed();
        if since >= PROGRESS_LOG_INTERVAL {
            let rate = (read_total - last_log_bytes) as f64 / since.as_secs_f64() / 1e6;
            let percent = if total_bytes > 0 {
                read_total as f64 * 100.0 / total_bytes as f64
            } else {
                0.0
            };
            tracing::info!(
                "Loading RDB {}: {read_total} of {} bytes ({percent:.1}%), {rate:.1} MB/s, {} keys",
                path.display(),
                total_bytes,
                loader.keys()
            );
            last_log = std::time::Instant::now();
            last_log_bytes = read_total;
        }
    }
    loader.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_rdb::{Encoder, EncoderOptions};

    fn options() -> LoadOptions {
        LoadOptions {
            databases: 16,
            zset_limits: CompactLimits::default(),
        }
    }

    fn encode(build: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut encoder = Encoder::new(EncoderOptions::default());
        build(&mut encoder);
        encoder
            .finish()
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect()
    }

    fn sample() -> Vec<u8> {
        encode(|e| {
            e.write_aux(b"repl-stream-db", b"3");
            e.write_aux(b"repl-id", &[b'a'; 40]);
            e.write_aux(b"repl-offset", b"1234");
            e.select_db(0);
            e.write_string(b"s", b"value", None);
            e.write_string(b"gone", b"x", Some(1));
            e.write_list(b"l", [&b"a"[..], b"b", b"c"], None).unwrap();
            e.select_db(5);
            e.write_set(b"set", [&b"x"[..], b"y"], Some(u64::MAX / 2))
                .unwrap();
            e.write_hash(b"h", [(&b"f"[..], &b"v"[..])], None).unwrap();
            e.write_zset(b"z", [(&b"m"[..], 1.5), (&b"n"[..], -0.0)], None)
                .unwrap();
        })
    }

    #[test]
    fn loads_every_type_with_expiries_and_aux_fields() {
        let loaded = load_bytes(&sample(), options()).unwrap();
        assert_eq!(loaded.keys, 6);
        assert_eq!(loaded.keys_already_expired, 1);
        assert_eq!(loaded.stream_db, Some(3));
        assert_eq!(loaded.repl_offset, Some(1234));
        assert_eq!(loaded.repl_id.as_deref(), Some("a".repeat(40).as_str()));
        assert_eq!(loaded.dbs.len(), 16);
        let db0 = &loaded.dbs[0];
        assert!(matches!(&db0.get(b"s").unwrap().value, Value::Str(v) if v.as_ref() == b"value"));
        assert_eq!(db0.get(b"gone").unwrap().expire_at_ms, Some(1));
        match &db0.get(b"l").unwrap().value {
            Value::List(l) => assert_eq!(l.len(), 3),
            other => panic!("{other:?}"),
        }
        let db5 = &loaded.dbs[5];
        assert_eq!(db5.volatile_len(), 1);
        match &db5.get(b"z").unwrap().value {
            Value::ZSet(z) => {
                assert!(z.is_compact());
                assert_eq!(z.score(b"m"), Some(1.5));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&db5.get(b"h").unwrap().value, Value::Hash(h) if h.len() == 1));
    }

    #[test]
    fn chunked_input_gives_the_same_result() {
        let data = sample();
        let mut loader = Loader::new(options());
        for chunk in data.chunks(7) {
            loader.push(chunk).unwrap();
        }
        assert!(loader.is_done());
        assert_eq!(loader.finish().unwrap().keys, 6);
    }

    #[test]
    fn a_cut_or_corrupt_stream_is_refused() {
        let data = sample();
        let cut = load_bytes(&data[..data.len() - 3], options());
        assert!(matches!(cut, Err(LoadError::Truncated { .. })), "{cut:?}");
        let mut corrupt = data.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        assert!(matches!(
            load_bytes(&corrupt, options()),
            Err(LoadError::Decode(DecodeError::CrcMismatch { .. }))
        ));
    }

    #[test]
    fn a_db_beyond_the_configured_count_is_refused() {
        let few = LoadOptions {
            databases: 4,
            ..options()
        };
        assert!(matches!(
            load_bytes(&sample(), few),
            Err(LoadError::DbOutOfRange {
                db: 5,
                databases: 4
            })
        ));
    }

    #[test]
    fn large_sorted_sets_are_not_compact_and_keep_negative_zero() {
        let limits = CompactLimits {
            max_entries: 1,
            max_value_bytes: 64,
        };
        let value = RdbValue::SortedSet(vec![
            (Bytes::from_static(b"a"), -0.0),
            (Bytes::from_static(b"b"), 2.0),
        ]);
        match convert_value(0, b"z", value, limits).unwrap() {
            Some(Value::ZSet(z)) => {
                assert!(!z.is_compact());
                assert!(z.score(b"a").unwrap().is_sign_negative());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streams_duplicates_and_empty_collections() {
        // An empty stream is kept (Redis keeps them: they hold a last ID and groups).
        let stream = RdbValue::Stream(Box::default());
        let loaded = convert_value(2, b"events", stream, CompactLimits::default());
        assert!(matches!(loaded, Ok(Some(Value::Stream(s))) if s.is_empty()));
        let dup = RdbValue::Set(vec![Bytes::from_static(b"x"), Bytes::from_static(b"x")]);
        assert!(matches!(
            convert_value(0, b"s", dup, CompactLimits::default()),
            Err(LoadError::DuplicateElement { .. })
        ));
        // Hashes and sorted sets are built in bulk, small (packed, map-less) or large.
        for n in [3usize, 300] {
            let mut pairs: Vec<(Bytes, Bytes)> = (0..n)
                .map(|i| (Bytes::from(format!("f{i}")), Bytes::from_static(b"v")))
                .collect();
            pairs.push((Bytes::from_static(b"f1"), Bytes::from_static(b"w")));
            let refused = convert_value(0, b"h", RdbValue::Hash(pairs), CompactLimits::default());
            assert!(
                matches!(
                    &refused,
                    Err(LoadError::DuplicateElement {
                        type_name: "hash",
                        ..
                    })
                ),
                "{n}: {refused:?}"
            );
            let mut members: Vec<(Bytes, f64)> = (0..n)
                .map(|i| (Bytes::from(format!("m{i}")), i as f64))
                .collect();
            members.push((Bytes::from_static(b"m2"), -1.0));
            let refused = convert_value(
                0,
                b"z",
                RdbValue::SortedSet(members),
                CompactLimits::default(),
            );
            assert!(
                matches!(
                    &refused,
                    Err(LoadError::DuplicateElement {
                        type_name: "zset",
                        ..
                    })
                ),
                "{n}: {refused:?}"
            );
        }
        assert!(
            convert_value(
                0,
                b"l",
                RdbValue::List(Vec::new()),
                CompactLimits::default()
            )
            .unwrap()
            .is_none()
        );
    }
}
