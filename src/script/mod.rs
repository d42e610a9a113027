//! Lua scripting: the VM, its sandbox and libraries, and the conversions between Lua values
//! and replies. Pure of the keyspace: a script's commands reach the server through
//! [`engine::Host`], which the command layer implements.

pub mod convert;
pub mod engine;
pub mod flags;
pub mod library;
pub mod libs;
pub mod lrand48;
pub mod native;
pub mod watch;

use std::fmt;

pub use engine::{Host, Run, ScriptEngine};

/// Failures setting up the Lua VM.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("Lua VM: {0}")]
    Lua(#[from] mlua::Error),
}

/// A script's name: the SHA1 of its body as 40 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha1Hex([u8; 40]);

impl Sha1Hex {
    pub fn of(body: &[u8]) -> Sha1Hex {
        Sha1Hex::from_digest(sha1_smol::Sha1::from(body).digest().bytes())
    }

    fn from_digest(digest: [u8; 20]) -> Sha1Hex {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 40];
        for (i, byte) in digest.iter().enumerate() {
            text[2 * i] = HEX[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
        Sha1Hex(text)
    }

    /// A name given by a client (EVALSHA, SCRIPT EXISTS): any case, but 40 hex digits.
    pub fn parse(text: &[u8]) -> Option<Sha1Hex> {
        let text: &[u8; 40] = text.try_into().ok()?;
        if !text.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        Some(Sha1Hex(text.map(|b| b.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        // Always hex digits, so always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Sha1Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sha1_hex() {
        assert_eq!(
            Sha1Hex::of(b"").as_str(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        let upper = b"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709";
        assert_eq!(Sha1Hex::parse(upper), Some(Sha1Hex::of(b"")));
        assert_eq!(Sha1Hex::parse(b"da39"), None);
    }
}
