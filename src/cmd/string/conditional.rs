//! Conditions on a string's current value (Redis 8.4): SET's IFEQ IFNE IFDEQ IFDNE, DELEX,
//! DIGEST, and Valkey's DELIFEQ. A digest is the XXH3 64-bit hash of the value, written as
//! 16 lowercase hex digits.

use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::store::Value;

pub const DIGEST_HEX_LEN: usize = 16;
const DIGEST_LENGTH: &str = "ERR must be exactly 16 hexadecimal characters";

/// The digest DIGEST reports and IFDEQ/IFDNE compare.
pub fn digest(value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(value)
}

fn digest_hex(value: &[u8]) -> Bytes {
    Bytes::from(format!("{:016x}", digest(value)))
}

/// A condition on the current value of a string key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueCondition {
    /// The key holds a string equal to this.
    Equals(Bytes),
    /// The key is missing or holds a different string.
    NotEquals(Bytes),
    /// The key holds a string with this digest (`None`: digits that are not hex, which no
    /// digest equals).
    DigestEquals(Option<u64>),
    /// The key is missing or holds a string with another digest.
    DigestNotEquals(Option<u64>),
}

impl ValueCondition {
    /// The condition `token arg` names, `Ok(None)` if `token` is not a condition.
    pub fn parse(token: &[u8], arg: &Bytes) -> Result<Option<ValueCondition>, Reply> {
        let digest_arg = || {
            if arg.len() != DIGEST_HEX_LEN {
                return Err(Reply::error(DIGEST_LENGTH));
            }
            Ok(std::str::from_utf8(arg)
                .ok()
                .and_then(|text| u64::from_str_radix(text, 16).ok()))
        };
        Ok(Some(match token.to_ascii_uppercase().as_slice() {
            b"IFEQ" => ValueCondition::Equals(arg.clone()),
            b"IFNE" => ValueCondition::NotEquals(arg.clone()),
            b"IFDEQ" => ValueCondition::DigestEquals(digest_arg()?),
            b"IFDNE" => ValueCondition::DigestNotEquals(digest_arg()?),
            _ => return Ok(None),
        }))
    }

    /// Whether a key holding `current` meets the condition. Redis answers WRONGTYPE for a
    /// non-string only to the conditions a missing key meets (IFNE, IFDNE): the others just
    /// fail.
    pub fn holds(&self, current: Option<&Value>) -> Result<bool, Reply> {
        let text = match current {
            None => None,
            Some(Value::Str(s)) => Some(s.to_bytes()),
            Some(_) => {
                return match self {
                    ValueCondition::Equals(_) | ValueCondition::DigestEquals(_) => Ok(false),
                    ValueCondition::NotEquals(_) | ValueCondition::DigestNotEquals(_) => {
                        Err(Reply::error(errors::WRONGTYPE))
                    }
                };
            }
        };
        Ok(match (self, text) {
            (ValueCondition::Equals(v), Some(t)) => t == *v,
            (ValueCondition::NotEquals(v), Some(t)) => t != *v,
            (ValueCondition::DigestEquals(d), Some(t)) => *d == Some(digest(&t)),
            (ValueCondition::DigestNotEquals(d), Some(t)) => *d != Some(digest(&t)),
            (ValueCondition::Equals(_) | ValueCondition::DigestEquals(_), None) => false,
            (ValueCondition::NotEquals(_) | ValueCondition::DigestNotEquals(_), None) => true,
        })
    }
}

/// `DIGEST key`: the value's digest, nil for a missing key.
pub fn digest_command(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    match ctx.read_str(&argv[1]) {
        Ok(Some(value)) => Reply::Bulk(digest_hex(&value)),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

/// `DELEX key [IFEQ v | IFNE v | IFDEQ d | IFDNE d]`: 1 if the key was deleted. Without a
/// condition any type goes; with one the key must be a string. Propagated as DEL.
pub fn delex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    if argv.len() == 3 || argv.len() > 4 {
        return Reply::error(errors::wrong_arity("delex"));
    }
    let condition = match argv.get(2) {
        None => None,
        Some(token) => match ValueCondition::parse(token, &argv[3]) {
            Ok(Some(condition)) => Some(condition),
            // Redis 8.6 answers 0 to a token it does not know.
            Ok(None) => return Reply::Integer(0),
            Err(e) => return e,
        },
    };
    let current = ctx.lookup(key).map(|e| e.value.clone());
    let Some(current) = current else {
        return Reply::Integer(0);
    };
    if let Some(condition) = condition {
        if !matches!(current, Value::Str(_)) {
            return Reply::error("ERR Key should be of string type if conditions are specified");
        }
        match condition.holds(Some(&current)) {
            Ok(true) => {}
            Ok(false) => return Reply::Integer(0),
            Err(e) => return e,
        }
    }
    drop(current);
    ctx.delete(key);
    ctx.rewrite(vec![Bytes::from_static(b"DEL"), key.clone()]);
    Reply::Integer(1)
}

/// Valkey's `DELIFEQ key value`: deletes a string key holding exactly `value`.
pub fn delifeq(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let key = &argv[1];
    match ctx.read_str(key) {
        Ok(Some(current)) if current == argv[2] => {}
        Ok(_) => return Reply::Integer(0),
        Err(e) => return e,
    }
    ctx.delete(key);
    ctx.rewrite(vec![Bytes::from_static(b"DEL"), key.clone()]);
    Reply::Integer(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_redis_8_6() {
        // DIGEST replies of a Redis 8.6.3 server.
        assert_eq!(&digest_hex(b"hello")[..], b"9555e8555c62dcfd");
        assert_eq!(&digest_hex(b"12345")[..], b"f34099ede96b5581");
    }

    #[test]
    fn conditions_on_missing_and_foreign_keys() {
        let s = Value::Str(b"v".as_slice().into());
        let eq = ValueCondition::Equals(Bytes::from_static(b"v"));
        let ne = ValueCondition::NotEquals(Bytes::from_static(b"v"));
        assert_eq!(eq.holds(Some(&s)), Ok(true));
        assert_eq!(ne.holds(Some(&s)), Ok(false));
        assert_eq!(eq.holds(None), Ok(false));
        assert_eq!(ne.holds(None), Ok(true));
        let hash = Value::new_hash();
        assert_eq!(eq.holds(Some(&hash)), Ok(false));
        assert!(ne.holds(Some(&hash)).is_err());
        let deq = ValueCondition::parse(b"ifdeq", &Bytes::from_static(b"9555E8555C62DCFD"));
        let Ok(Some(deq)) = deq else {
            panic!("a digest condition");
        };
        assert_eq!(
            deq.holds(Some(&Value::Str(b"hello".as_slice().into()))),
            Ok(true)
        );
        assert!(ValueCondition::parse(b"IFDEQ", &Bytes::from_static(b"0")).is_err());
        assert_eq!(
            ValueCondition::parse(b"IFDNE", &Bytes::from_static(b"zz55e8555c62dcfd")).ok(),
            Some(Some(ValueCondition::DigestNotEquals(None)))
        );
    }
}
