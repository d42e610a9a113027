//! Which RDB format a full sync sends a replica: the one it can load.
//!
//! Redis replicas (7.0 to 8.6) announce no version; they get RDB 10, which every release
//! since 7.0 and Valkey 8 and 9 load, raised to 12 when a hash has field expiry times (Redis
//! 7.4's format, what a Redis 7.4+ master sends too). Valkey refuses versions 12 to 79, but
//! Valkey 8 and later announce themselves (`REPLCONF version 9.1.2`); from 9.0 they load
//! Valkey's own format 80 (`VALKEY080`), which keeps field times as Valkey's type 22, as a
//! Valkey 9 master sends it to them.
//!
//! sluice replicas announce 9.0.0 too, to get format 80 from Valkey masters; they also
//! announce `capa size-hint`, which no Valkey sends, and a sluice master keeps them on
//! Redis's numbering, which they read as well and which the shared disk snapshot uses.

/// What a replica can load, from what it announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadFormat {
    /// Redis's numbering: RDB 10, or 12 for field expiry times.
    #[default]
    Redis,
    /// Valkey 9's format 80.
    Valkey9,
}

/// Valkey's format 80 (`VALKEY080`).
pub const VALKEY9_RDB_VERSION: u32 = 80;

/// A server version as `REPLCONF version` carries it: `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AnnouncedVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl AnnouncedVersion {
    /// `None` unless the text is three dot-separated decimal numbers (Valkey refuses anything
    /// else with `Unrecognized version format`).
    pub fn parse(text: &[u8]) -> Option<AnnouncedVersion> {
        let text = std::str::from_utf8(text).ok()?;
        let mut parts = text.split('.').map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse::<u32>().ok()
            }
        });
        let version = AnnouncedVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(version)
    }
}

impl PayloadFormat {
    /// The format for a replica that announced `version` (Valkey and sluice do) and, for
    /// `sluice_replica`, sluice's own `capa size-hint`.
    pub fn for_replica(version: Option<AnnouncedVersion>, sluice_replica: bool) -> PayloadFormat {
        match version {
            Some(v) if v.major >= 9 && !sluice_replica => PayloadFormat::Valkey9,
            _ => PayloadFormat::Redis,
        }
    }

    /// The RDB version to encode with; the snapshot raises Redis's 10 to 12 by itself when a
    /// hash has field times.
    pub fn rdb_version(self) -> u32 {
        match self {
            PayloadFormat::Redis => sluice_rdb::RDB_VERSION_WRITTEN,
            PayloadFormat::Valkey9 => VALKEY9_RDB_VERSION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_valkey_accepts_them() {
        let v = AnnouncedVersion::parse(b"9.1.2").expect("a version");
        assert_eq!((v.major, v.minor, v.patch), (9, 1, 2));
        for bad in [
            &b"abc"[..],
            b"9.1",
            b"9.1.2.3",
            b"9..2",
            b"9.1.x",
            b"",
            b"-9.1.2",
        ] {
            assert_eq!(AnnouncedVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn valkey_9_and_later_get_valkey_9s_format() {
        let format = |text: &[u8]| PayloadFormat::for_replica(AnnouncedVersion::parse(text), false);
        assert_eq!(
            PayloadFormat::for_replica(None, false),
            PayloadFormat::Redis
        );
        assert_eq!(
            PayloadFormat::for_replica(AnnouncedVersion::parse(b"9.0.0"), true),
            PayloadFormat::Redis
        );
        assert_eq!(format(b"8.1.0"), PayloadFormat::Redis);
        assert_eq!(format(b"9.0.0"), PayloadFormat::Valkey9);
        assert_eq!(format(b"10.0.0"), PayloadFormat::Valkey9);
        assert_eq!(PayloadFormat::Redis.rdb_version(), 10);
        assert_eq!(PayloadFormat::Valkey9.rdb_version(), 80);
    }
}
