//! Where a command's keys are in its arguments, for the commands whose keys move (Redis's
//! `movablekeys`): a count argument (ZUNIONSTORE, LMPOP, EVAL …), the STREAMS keyword
//! (XREAD), a STORE option (SORT, GEORADIUS), MIGRATE's KEYS. Pure; the others take the
//! fixed first/last/step of their table entry.

use bytes::Bytes;

use super::table::CommandSpec;
use crate::util::num::parse_i64;

/// Commands Redis 7.0 flags `movablekeys` (those sluice serves or refuses by name).
pub const MOVABLE_KEYS: &[&str] = &[
    "blmpop",
    "bzmpop",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
    "georadius",
    "georadiusbymember",
    "lmpop",
    "migrate",
    "sintercard",
    "sort",
    "sort_ro",
    "xread",
    "xreadgroup",
    "zdiff",
    "zdiffstore",
    "zinter",
    "zintercard",
    "zinterstore",
    "zmpop",
    "zunion",
    "zunionstore",
];

pub fn is_movable(name: &str) -> bool {
    MOVABLE_KEYS.contains(&name)
}

/// The positions of the keys in `args` (`args[0]` is the command name); `None` when the
/// arguments do not say where the keys are (a bad count), which COMMAND GETKEYS reports
/// as invalid arguments.
pub fn key_positions(spec: &CommandSpec, args: &[Bytes]) -> Option<Vec<usize>> {
    let counted = |count_at: usize, fixed: &[usize]| -> Option<Vec<usize>> {
        let count = usize::try_from(parse_i64(args.get(count_at)?)?).ok()?;
        let first = count_at + 1;
        if count == 0 || first + count > args.len() {
            return None;
        }
        Some(fixed.iter().copied().chain(first..first + count).collect())
    };
    match spec.name {
        "zunionstore" | "zinterstore" | "zdiffstore" => counted(2, &[1]),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            counted(1, &[])
        }
        "blmpop" | "bzmpop" => counted(2, &[]),
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro" => {
            // Zero keys is fine for a script.
            let count = usize::try_from(parse_i64(args.get(2)?)?).ok()?;
            (3 + count <= args.len()).then(|| (3..3 + count).collect())
        }
        "xread" | "xreadgroup" => {
            let streams = args
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"STREAMS"))?;
            let rest = args.len() - streams - 1;
            if rest == 0 || !rest.is_multiple_of(2) {
                return None;
            }
            Some((streams + 1..streams + 1 + rest / 2).collect())
        }
        "sort" | "sort_ro" => {
            let mut keys = vec![1];
            keys.extend(sort_store_position(args));
            Some(keys)
        }
        "georadius" | "georadiusbymember" => {
            let first_option = if spec.name == "georadius" { 6 } else { 5 };
            let mut keys = vec![1];
            keys.extend(georadius_store_positions(args, first_option));
            Some(keys)
        }
        "migrate" => {
            // `MIGRATE host port key|"" db timeout [… KEYS key …]`
            match args
                .iter()
                .skip(6)
                .position(|a| a.eq_ignore_ascii_case(b"KEYS"))
            {
                Some(at) if args.get(3).is_some_and(|k| k.is_empty()) => {
                    Some((6 + at + 1..args.len()).collect())
                }
                _ => Some(vec![3]),
            }
        }
        _ => {
            let mut keys = spec.key_positions(args.len());
            // MEMORY USAGE's key (Redis gives the subcommand its own key specification).
            if spec.name == "memory" && args.len() > 2 && args[1].eq_ignore_ascii_case(b"USAGE") {
                keys.push(2);
            }
            Some(keys)
        }
    }
}

/// SORT's destination key, which its key specification cannot express: the argument after
/// the last STORE (LIMIT takes two arguments, BY and GET one), as Redis's `sortGetKeys`.
fn sort_store_position(args: &[Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        let skip = if arg.eq_ignore_ascii_case(b"LIMIT") {
            2
        } else if arg.eq_ignore_ascii_case(b"GET") || arg.eq_ignore_ascii_case(b"BY") {
            1
        } else if arg.eq_ignore_ascii_case(b"STORE") {
            if i + 1 < args.len() {
                found = Some(i + 1);
            }
            1
        } else {
            0
        };
        i += 1 + skip;
    }
    found
}

/// GEORADIUS's destination keys, as its key specifications find them: the argument after
/// the first STORE, then after the first STOREDIST, searched from the first option on.
fn georadius_store_positions(args: &[Bytes], first_option: usize) -> Vec<usize> {
    let after = |keyword: &[u8]| {
        (first_option..args.len().saturating_sub(1))
            .find(|&i| args[i].eq_ignore_ascii_case(keyword))
            .map(|i| i + 1)
    };
    after(b"STORE")
        .into_iter()
        .chain(after(b"STOREDIST"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(words: &str) -> Option<Vec<usize>> {
        let args: Vec<Bytes> = words
            .split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let spec = crate::cmd::lookup(&args[0])?;
        key_positions(spec, &args)
    }

    #[test]
    fn movable_keys_are_found() {
        assert_eq!(positions("zunionstore d 2 a b"), Some(vec![1, 3, 4]));
        assert_eq!(positions("zunionstore d 3 a b"), None);
        assert_eq!(positions("zinter 2 a b WEIGHTS 1 2"), Some(vec![2, 3]));
        assert_eq!(positions("lmpop 2 a b LEFT"), Some(vec![2, 3]));
        assert_eq!(positions("blmpop 0 1 a LEFT"), Some(vec![3]));
        assert_eq!(positions("xread COUNT 1 STREAMS a b 0 0"), Some(vec![4, 5]));
        assert_eq!(positions("xread STREAMS a b 0"), None);
        assert_eq!(positions("sort k BY w STORE d"), Some(vec![1, 5]));
        assert_eq!(
            positions("georadius g 1 2 3 km STORE a STOREDIST b"),
            Some(vec![1, 7, 9])
        );
        assert_eq!(positions("get k"), Some(vec![1]));
        assert_eq!(positions("mset a 1 b 2"), Some(vec![1, 3]));
    }
}
