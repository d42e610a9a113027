//! `notify-keyspace-events`: which classes of keyspace events are published, and on which
//! channels, as Redis's one-letter classes. Pure: parsing, the canonical text CONFIG GET
//! shows, and the class of each event the commands raise.

/// The classes enabled, Redis's `NOTIFY_*` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyspaceEvents(u32);

/// `K`: published on `__keyspace@<db>__:<key>`, the event as message.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: published on `__keyevent@<db>__:<event>`, the key as message.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: DEL, EXPIRE, RENAME and the other type-independent commands.
pub const GENERIC: u32 = 1 << 2;
/// `$`
pub const STRING: u32 = 1 << 3;
/// `l`
pub const LIST: u32 = 1 << 4;
/// `s`
pub const SET: u32 = 1 << 5;
/// `h`
pub const HASH: u32 = 1 << 6;
/// `z`
pub const ZSET: u32 = 1 << 7;
/// `x`: a key deleted because it expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key evicted for maxmemory.
pub const EVICTED: u32 = 1 << 9;
/// `t`
pub const STREAM: u32 = 1 << 10;
/// `m`: a read of a missing key (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events (sluice loads no modules; the class is accepted).
pub const MODULE: u32 = 1 << 13;
/// `n`: a key created (not part of `A`).
pub const NEW: u32 = 1 << 14;
/// `A`: every class but `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The class letters in the order CONFIG GET writes them (after `A` when it applies).
const CLASS_LETTERS: [(u32, char); 11] = [
    (GENERIC, 'g'),
    (STRING, '$'),
    (LIST, 'l'),
    (SET, 's'),
    (HASH, 'h'),
    (ZSET, 'z'),
    (EXPIRED, 'x'),
    (EVICTED, 'e'),
    (STREAM, 't'),
    (MODULE, 'd'),
    (NEW, 'n'),
];

impl KeyspaceEvents {
    /// Parses the directive's letters; `None` for a letter Redis does not know.
    pub fn parse(text: &str) -> Option<KeyspaceEvents> {
        let mut flags = 0;
        for c in text.chars() {
            flags |= match c {
                'A' => ALL,
                'g' => GENERIC,
                '$' => STRING,
                'l' => LIST,
                's' => SET,
                'h' => HASH,
                'z' => ZSET,
                'x' => EXPIRED,
                'e' => EVICTED,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                't' => STREAM,
                'm' => KEY_MISS,
                'd' => MODULE,
                'n' => NEW,
                _ => return None,
            };
        }
        Some(KeyspaceEvents(flags))
    }

    /// Whether events of `class` are published at all: the class is on and so is one of
    /// the two channel families.
    #[inline]
    pub fn publishes(self, class: u32) -> bool {
        self.0 & class != 0 && self.0 & (KEYSPACE | KEYEVENT) != 0
    }

    pub fn keyspace_channel(self) -> bool {
        self.0 & KEYSPACE != 0
    }

    pub fn keyevent_channel(self) -> bool {
        self.0 & KEYEVENT != 0
    }
}

/// The canonical text, as CONFIG GET shows it: `A` for all of its classes (or the classes
/// one by one), then `K`, `E`, `m`.
impl std::fmt::Display for KeyspaceEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags = self.0;
        let mut text = String::new();
        if flags & ALL == ALL {
            // Redis prints no `n` after `A` (though the class stays on): so do we.
            text.push('A');
        } else {
            for (class, letter) in CLASS_LETTERS {
                if flags & class != 0 {
                    text.push(letter);
                }
            }
        }
        for (class, letter) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if flags & class != 0 {
                text.push(letter);
            }
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_redis() {
        let parse = |s: &str| KeyspaceEvents::parse(s).map(|e| e.to_string());
        assert_eq!(parse("KEA").as_deref(), Some("AKE"));
        assert_eq!(parse("").as_deref(), Some(""));
        assert_eq!(parse("Ex").as_deref(), Some("xE"));
        assert_eq!(parse("gK$lzx").as_deref(), Some("g$lzxK"));
        assert_eq!(parse("AnKEm").as_deref(), Some("AKEm"));
        assert_eq!(parse("gnK").as_deref(), Some("gnK"));
        assert_eq!(parse("Q"), None);
        let events = KeyspaceEvents::parse("Kl").unwrap_or_default();
        assert!(events.publishes(LIST));
        assert!(!events.publishes(STRING));
        // A class without a channel family publishes nothing.
        assert!(
            !KeyspaceEvents::parse("l")
                .unwrap_or_default()
                .publishes(LIST)
        );
    }
}
