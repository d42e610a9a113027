//! Redis 7.0's key specifications: where each command's keys are and what it does to
//! them (COMMAND INFO shows them; COMMAND GETKEYSANDFLAGS applies them). The table is
//! generated from redis-server's own COMMAND INFO (`table.rs`); finding the keys of an
//! argv follows Redis's `getKeysUsingKeySpecs`, and the commands whose flags depend on
//! their arguments (SET, BITFIELD) or whose specs cannot find every key (MIGRATE, SORT)
//! are handled as Redis's own key procedures handle them.

mod table;

use bytes::Bytes;

use super::key_positions::key_positions;
use super::table::CommandSpec;
use crate::resp::Reply;
use crate::util::num::parse_i64;

/// Where the search for a spec's keys starts.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At this argument.
    Index(i32),
    /// After this keyword, looked for from `start_from` (from the end when negative).
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    Unknown,
}

/// How the keys run from where the search began.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// Up to `last_key` (relative; negative counts from the end, or with `limit`, a share of
    /// the rest), every `key_step`.
    Range {
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    /// The number of keys is at `keynum_index`; they start `first_key` after the search
    /// start.
    KeyNum {
        keynum_index: i32,
        first_key: i32,
        key_step: i32,
    },
    Unknown,
}

#[derive(Debug)]
pub struct KeySpec {
    pub flags: &'static [&'static str],
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// The key specifications of a command or subcommand (`client|id`), by full name.
pub fn of(full_name: &str) -> &'static [KeySpec] {
    table::KEY_SPECS
        .binary_search_by(|(name, _)| name.cmp(&full_name))
        .map_or(&[], |at| table::KEY_SPECS[at].1)
}

/// Why the keys could not be found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeysError {
    /// The arguments do not say where the keys are.
    Invalid,
}

/// The keys of `argv` with their flags, as COMMAND GETKEYSANDFLAGS reports them.
pub fn keys_and_flags(
    spec: &CommandSpec,
    argv: &[Bytes],
) -> Result<Vec<(usize, Vec<&'static str>)>, KeysError> {
    // A container's keys are in its subcommand's specs (`xinfo|stream`).
    let specs = match argv.get(1) {
        Some(sub) if super::subcommands::is_container(spec.name) => {
            super::subcommands::lookup(spec.name, sub).map_or(&[][..], |s| of(s.full_name))
        }
        _ => of(spec.name),
    };
    match spec.name {
        "set" => {
            let get = argv[3.min(argv.len())..]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(b"GET"));
            let flags = if get {
                vec!["RW", "access", "update"]
            } else {
                vec!["OW", "update"]
            };
            return Ok(vec![(1, flags)]);
        }
        "bitfield" => return Ok(vec![(1, bitfield_flags(argv))]),
        "migrate" => {
            let positions = key_positions(spec, argv).ok_or(KeysError::Invalid)?;
            return Ok(positions
                .into_iter()
                .map(|at| (at, vec!["RW", "access", "delete"]))
                .collect());
        }
        "sort" | "sort_ro" => {
            let positions = key_positions(spec, argv).ok_or(KeysError::Invalid)?;
            return Ok(positions
                .into_iter()
                .enumerate()
                .map(|(i, at)| {
                    let flags = if i == 0 {
                        vec!["RO", "access"]
                    } else {
                        vec!["OW", "update"]
                    };
                    (at, flags)
                })
                .collect());
        }
        _ => {}
    }
    if specs.is_empty() {
        // A command of a later Redis that sluice also serves: its keys, flagged by what the
        // command does.
        let positions = key_positions(spec, argv).ok_or(KeysError::Invalid)?;
        let flags = if spec.has(super::flags::WRITE) {
            vec!["RW", "update"]
        } else {
            vec!["RO", "access"]
        };
        return Ok(positions
            .into_iter()
            .map(|at| (at, flags.clone()))
            .collect());
    }
    let mut keys = Vec::new();
    for key_spec in specs {
        if key_spec.has("not_key") {
            continue;
        }
        let found = find(key_spec, argv, spec.arity < 0)?;
        let flags: Vec<&'static str> = key_spec.flags.to_vec();
        keys.extend(found.into_iter().map(|at| (at, flags.clone())));
    }
    Ok(keys)
}

/// BITFIELD only reads when every operation is a GET (Redis's `bitfieldGetKeys`).
fn bitfield_flags(argv: &[Bytes]) -> Vec<&'static str> {
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        let op = &argv[i];
        if op.eq_ignore_ascii_case(b"GET") && left >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"OVERFLOW") && left >= 1 {
            i += 2;
        } else {
            // SET, INCRBY, or something unknown: a write, to be safe.
            return vec!["RW", "access", "update"];
        }
    }
    vec!["RO", "access"]
}

/// The positions one spec finds in `argv` (Redis's `getKeysUsingKeySpecs` for one spec).
fn find(spec: &KeySpec, argv: &[Bytes], variadic: bool) -> Result<Vec<usize>, KeysError> {
    let argc = i64::try_from(argv.len()).unwrap_or(i64::MAX);
    let first = match spec.begin {
        BeginSearch::Index(index) => i64::from(index),
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            let start = i64::from(start_from);
            let (from, end, step) = if start >= 0 {
                (start, argc, 1)
            } else {
                (argc + start, 0, -1)
            };
            let mut i = from;
            let mut found = None;
            while (step > 0 && i < end) || (step < 0 && i > end) {
                if usize::try_from(i)
                    .ok()
                    .and_then(|at| argv.get(at))
                    .is_some_and(|a| a.eq_ignore_ascii_case(keyword.as_bytes()))
                {
                    found = Some(i + 1);
                    break;
                }
                i += step;
            }
            match found {
                Some(first) => first,
                // No keyword: no keys from this spec.
                None => return Ok(Vec::new()),
            }
        }
        BeginSearch::Unknown => return Err(KeysError::Invalid),
    };
    let (first, last, step) = match spec.find {
        FindKeys::Range {
            last_key,
            key_step,
            limit,
        } => {
            let last_key = i64::from(last_key);
            let last = if last_key >= 0 {
                first + last_key
            } else if limit == 0 {
                argc + last_key
            } else {
                first + ((argc - first) / i64::from(limit) + last_key)
            };
            (first, last, i64::from(key_step))
        }
        FindKeys::KeyNum {
            keynum_index,
            first_key,
            key_step,
        } => {
            let at = first + i64::from(keynum_index);
            let count = usize::try_from(at)
                .ok()
                .and_then(|at| argv.get(at))
                .and_then(|a| parse_i64(a))
                .filter(|&n| n >= 0)
                .ok_or(KeysError::Invalid)?;
            let first = first + i64::from(first_key);
            (first, first + count - 1, i64::from(key_step))
        }
        FindKeys::Unknown => return Err(KeysError::Invalid),
    };
    if last >= argc || last < first || first >= argc {
        return Err(KeysError::Invalid);
    }
    let mut positions = Vec::new();
    let mut i = first;
    while i <= last {
        match usize::try_from(i) {
            Ok(at) if at < argv.len() => positions.push(at),
            // A variadic command's arity is checked by the command itself.
            _ if variadic => {}
            _ => return Err(KeysError::Invalid),
        }
        i += step.max(1);
    }
    Ok(positions)
}

/// A command's key specifications as COMMAND INFO shows them.
pub fn describe(full_name: &str) -> Reply {
    let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let int = |n: i32| Reply::Integer(i64::from(n));
    Reply::Array(
        of(full_name)
            .iter()
            .map(|spec| {
                let (begin_type, begin_spec) = match spec.begin {
                    BeginSearch::Index(index) => ("index", vec![(bulk("index"), int(index))]),
                    BeginSearch::Keyword {
                        keyword,
                        start_from,
                    } => (
                        "keyword",
                        vec![
                            (bulk("keyword"), bulk(keyword)),
                            (bulk("startfrom"), int(start_from)),
                        ],
                    ),
                    BeginSearch::Unknown => ("unknown", Vec::new()),
                };
                let (find_type, find_spec) = match spec.find {
                    FindKeys::Range {
                        last_key,
                        key_step,
                        limit,
                    } => (
                        "range",
                        vec![
                            (bulk("lastkey"), int(last_key)),
                            (bulk("keystep"), int(key_step)),
                            (bulk("limit"), int(limit)),
                        ],
                    ),
                    FindKeys::KeyNum {
                        keynum_index,
                        first_key,
                        key_step,
                    } => (
                        "keynum",
                        vec![
                            (bulk("keynumidx"), int(keynum_index)),
                            (bulk("firstkey"), int(first_key)),
                            (bulk("keystep"), int(key_step)),
                        ],
                    ),
                    FindKeys::Unknown => ("unknown", Vec::new()),
                };
                Reply::Map(vec![
                    (
                        bulk("flags"),
                        Reply::Set(spec.flags.iter().map(|f| Reply::simple(*f)).collect()),
                    ),
                    (
                        bulk("begin_search"),
                        Reply::Map(vec![
                            (bulk("type"), bulk(begin_type)),
                            (bulk("spec"), Reply::Map(begin_spec)),
                        ]),
                    ),
                    (
                        bulk("find_keys"),
                        Reply::Map(vec![
                            (bulk("type"), bulk(find_type)),
                            (bulk("spec"), Reply::Map(find_spec)),
                        ]),
                    ),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::lookup;

    fn keys(line: &str) -> Result<Vec<(usize, Vec<&'static str>)>, KeysError> {
        let argv: Vec<Bytes> = line
            .split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let spec = lookup(&argv[0]).unwrap();
        keys_and_flags(spec, &argv)
    }

    #[test]
    fn the_table_is_sorted_for_lookups() {
        assert!(table::KEY_SPECS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(of("get").len(), 1);
        assert!(of("ping").is_empty());
        assert_eq!(of("xinfo|stream").len(), 1);
    }

    #[test]
    fn specs_find_keys_as_redis_does() {
        assert_eq!(keys("get k").unwrap(), vec![(1, vec!["RO", "access"])]);
        let lmove = keys("lmove a b left right").unwrap();
        assert_eq!(lmove[0], (1, vec!["RW", "access", "delete"]));
        assert_eq!(lmove[1], (2, vec!["RW", "insert"]));
        assert_eq!(
            keys("zunionstore d 2 a b")
                .unwrap()
                .iter()
                .map(|k| k.0)
                .collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert_eq!(
            keys("mset a 1 b 2")
                .unwrap()
                .iter()
                .map(|k| k.0)
                .collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(keys("zunionstore d 5 a b"), Err(KeysError::Invalid));
        assert_eq!(
            keys("set k v get").unwrap()[0].1,
            vec!["RW", "access", "update"]
        );
        assert_eq!(keys("set k v").unwrap()[0].1, vec!["OW", "update"]);
        assert_eq!(
            keys("bitfield k get u8 0").unwrap()[0].1,
            vec!["RO", "access"]
        );
    }
}
