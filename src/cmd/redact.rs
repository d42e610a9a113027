//! Arguments Redis replaces with "(redacted)" before a command is shown anywhere (SLOWLOG,
//! MONITOR): passwords given to AUTH, HELLO, MIGRATE, and the values of the configs Redis
//! marks sensitive.

use std::borrow::Cow;

use bytes::Bytes;

pub const REDACTED: &[u8] = b"(redacted)";

/// Configs whose values CONFIG SET must not show.
const SENSITIVE_CONFIGS: &[&str] = &["masterauth", "masteruser", "requirepass"];

/// Positions of the arguments to hide in `argv` of command `name` (lower case).
fn positions(name: &str, argv: &[Bytes]) -> Vec<usize> {
    let is = |at: usize, word: &[u8]| argv.get(at).is_some_and(|a| a.eq_ignore_ascii_case(word));
    match name {
        "auth" if argv.len() <= 3 => (1..argv.len()).collect(),
        "hello" => {
            let mut hidden = Vec::new();
            let mut j = 2;
            while j < argv.len() {
                if is(j, b"AUTH") && j + 2 < argv.len() {
                    hidden.extend([j + 1, j + 2]);
                    j += 2;
                } else if is(j, b"SETNAME") {
                    j += 1;
                }
                j += 1;
            }
            hidden
        }
        "migrate" => {
            let mut hidden = Vec::new();
            let mut j = 6;
            while j < argv.len() && !is(j, b"KEYS") {
                if is(j, b"AUTH") && j + 1 < argv.len() {
                    hidden.push(j + 1);
                    j += 1;
                } else if is(j, b"AUTH2") && j + 2 < argv.len() {
                    hidden.extend([j + 1, j + 2]);
                    j += 2;
                }
                j += 1;
            }
            hidden
        }
        "config" if is(1, b"SET") => (2..argv.len())
            .step_by(2)
            .filter(|&at| {
                SENSITIVE_CONFIGS
                    .iter()
                    .any(|c| argv[at].eq_ignore_ascii_case(c.as_bytes()))
            })
            .map(|at| at + 1)
            .filter(|&at| at < argv.len())
            .collect(),
        _ => Vec::new(),
    }
}

/// `argv` with its secrets replaced; borrowed unchanged when it holds none.
pub fn redacted<'a>(name: &str, argv: &'a [Bytes]) -> Cow<'a, [Bytes]> {
    let hidden = positions(name, argv);
    if hidden.is_empty() {
        return Cow::Borrowed(argv);
    }
    let mut owned = argv.to_vec();
    for at in hidden {
        owned[at] = Bytes::from_static(REDACTED);
    }
    Cow::Owned(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn shown(name: &str, line: &str) -> String {
        redacted(name, &words(line))
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn secrets_are_hidden_and_nothing_else() {
        assert_eq!(shown("auth", "auth pw"), "auth (redacted)");
        assert_eq!(shown("auth", "auth u pw"), "auth (redacted) (redacted)");
        assert_eq!(
            shown("hello", "hello 3 SETNAME auth AUTH u pw"),
            "hello 3 SETNAME auth AUTH (redacted) (redacted)"
        );
        assert_eq!(
            shown("migrate", "migrate h 1 k 9 5000 AUTH2 u pw KEYS auth"),
            "migrate h 1 k 9 5000 AUTH2 (redacted) (redacted) KEYS auth"
        );
        assert_eq!(
            shown("config", "config set masterauth x maxmemory 1"),
            "config set masterauth (redacted) maxmemory 1"
        );
        assert_eq!(shown("get", "get auth"), "get auth");
    }
}
