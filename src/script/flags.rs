//! Script flags: the `#!lua flags=...` line a script may start with (Redis 7.0's shebang).
//! Pure parsing; what the flags allow is decided where scripts run.

/// What a script declared about itself. A script without a shebang runs in compatibility
/// mode: no declared flags, and Redis's older rules (writes allowed, checked per command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptFlags {
    /// No `#!` line: the rules of scripts from before Redis 7.0.
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// A shebang parsed, and how many bytes of the body it takes (the script proper starts
/// there; its line feed is kept so that line numbers in errors stay the user's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shebang {
    pub flags: ScriptFlags,
    pub len_bytes: usize,
}

/// Reads the shebang of `body`, if any. Errors are worded as Redis words them.
pub fn parse_shebang(body: &[u8]) -> Result<Shebang, String> {
    if !body.starts_with(b"#!") {
        return Ok(Shebang {
            flags: ScriptFlags {
                compat: true,
                ..ScriptFlags::default()
            },
            len_bytes: 0,
        });
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts = match crate::resp::parse::split_args(&body[..end]) {
        Some(parts) if !parts.is_empty() => parts,
        _ => return Err("Invalid engine in script shebang".into()),
    };
    if parts[0] != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        set_flags(&mut flags, list)?;
    }
    Ok(Shebang {
        flags,
        len_bytes: end,
    })
}

/// Applies a comma-separated flag list (`no-writes,allow-oom`); an empty list is no flag.
pub fn set_flags(flags: &mut ScriptFlags, list: &[u8]) -> Result<(), String> {
    if list.is_empty() {
        return Ok(());
    }
    for name in list.split(|&b| b == b',') {
        let flag = match name {
            b"no-writes" => &mut flags.no_writes,
            b"allow-oom" => &mut flags.allow_oom,
            b"allow-stale" => &mut flags.allow_stale,
            b"no-cluster" => &mut flags.no_cluster,
            b"allow-cross-slot-keys" => &mut flags.allow_cross_slot_keys,
            other => {
                return Err(format!(
                    "Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(other)
                ));
            }
        };
        *flag = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_shebang_is_compat_mode() {
        let shebang = parse_shebang(b"return 1").unwrap();
        assert!(shebang.flags.compat);
        assert_eq!(shebang.len_bytes, 0);
    }

    #[test]
    fn flags_are_read_and_the_line_feed_kept() {
        let shebang = parse_shebang(b"#!lua flags=no-writes,allow-stale\nreturn 1").unwrap();
        assert!(!shebang.flags.compat);
        assert!(shebang.flags.no_writes && shebang.flags.allow_stale);
        assert!(!shebang.flags.allow_oom);
        assert_eq!(shebang.len_bytes, 33);
        let bare = parse_shebang(b"#!lua\nreturn 1").unwrap();
        assert_eq!(bare.flags, ScriptFlags::default());
    }

    #[test]
    fn errors_are_worded_as_redis_words_them() {
        assert_eq!(
            parse_shebang(b"#!lua").unwrap_err(),
            "Invalid script shebang"
        );
        assert_eq!(
            parse_shebang(b"#!python\n").unwrap_err(),
            "Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=bad\n").unwrap_err(),
            "Unexpected flag in script shebang: bad"
        );
        assert_eq!(
            parse_shebang(b"#!lua name=x\n").unwrap_err(),
            "Unknown lua shebang option: name=x"
        );
    }
}
