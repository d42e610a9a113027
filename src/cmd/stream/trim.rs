//! Trimming: XADD's and XTRIM's `MAXLEN|MINID [=|~] threshold [LIMIT count]`, and the exact
//! form replicas receive.
//!
//! Approximate trims (`~`) remove whole nodes only, as Redis's remove whole listpacks, so
//! they keep what Redis keeps. Either way a replica gets the exact effect: `=` with the
//! resulting length or first ID, as Redis 7.0 rewrites it.

use bytes::Bytes;

use super::id::parse_strict;
use crate::resp::Reply;
use crate::store::stream::{RefPolicy, Stream, TrimTo};
use crate::util::num::parse_i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub threshold: TrimTo,
    pub approx: bool,
    /// Most entries one trim deletes (LIMIT, only with `~`).
    pub limit: usize,
    /// What happens to the groups' references (Redis 8.2's KEEPREF, DELREF, ACKED).
    pub refs: RefPolicy,
}

impl Trim {
    /// Trims `stream`; returns how many entries went.
    pub fn apply(&self, stream: &mut Stream) -> usize {
        stream.trim(self.threshold, self.approx, self.limit, self.refs)
    }

    /// The exact trim replicas get after this one ran on `stream`, with its reference
    /// policy when one was given.
    pub fn exact_args(&self, stream: &Stream) -> Vec<Bytes> {
        let mut args = self.threshold_args(stream).to_vec();
        if let Some(name) = ref_policy_name(self.refs) {
            args.push(Bytes::from_static(name));
        }
        args
    }

    fn threshold_args(&self, stream: &Stream) -> [Bytes; 3] {
        match self.threshold {
            TrimTo::MaxLen(max) => [
                Bytes::from_static(b"MAXLEN"),
                Bytes::from_static(b"="),
                Bytes::from(if self.approx { stream.len() } else { max }.to_string()),
            ],
            TrimTo::MinId(min) => [
                Bytes::from_static(b"MINID"),
                Bytes::from_static(b"="),
                if self.approx {
                    stream.first_id().to_bytes()
                } else {
                    min.to_bytes()
                },
            ],
        }
    }
}

/// Default LIMIT of an approximate trim: 100 nodes' worth of entries, within Redis's bounds.
fn approx_limit_default(node_entries_max: usize) -> usize {
    match node_entries_max.saturating_mul(100) {
        0 => 10_000,
        n => n.min(1_000_000),
    }
}

/// KEEPREF, DELREF or ACKED (any case), Redis 8.2's reference policies.
pub fn parse_ref_policy(arg: &[u8]) -> Option<RefPolicy> {
    if arg.eq_ignore_ascii_case(b"KEEPREF") {
        Some(RefPolicy::KeepRef)
    } else if arg.eq_ignore_ascii_case(b"DELREF") {
        Some(RefPolicy::DelRef)
    } else if arg.eq_ignore_ascii_case(b"ACKED") {
        Some(RefPolicy::Acked)
    } else {
        None
    }
}

/// The policy's name as replicas get it; none for the default, which Redis 7.0 replicas
/// also apply.
fn ref_policy_name(refs: RefPolicy) -> Option<&'static [u8]> {
    match refs {
        RefPolicy::KeepRef => None,
        RefPolicy::DelRef => Some(b"DELREF"),
        RefPolicy::Acked => Some(b"ACKED"),
    }
}

/// What XADD's or XTRIM's options say.
#[derive(Debug, Clone, Copy)]
pub struct Parsed {
    pub trim: Option<Trim>,
    pub no_mkstream: bool,
    /// XADD: the index of the ID argument (parsed by the caller).
    pub id_at: usize,
}

/// Parses the options of XADD (`xadd`) or XTRIM from `argv[start..]` in Redis 7.0's order of
/// checks. XADD's options end at its ID: `*`, or the first argument that is no option. A
/// master's LIMIT is ignored (trims are exact then), as Redis ignores it for its master and
/// its AOF.
pub fn parse_add_or_trim(
    argv: &[Bytes],
    start: usize,
    xadd: bool,
    from_master: bool,
    node_entries_max: usize,
) -> Result<Parsed, Reply> {
    let mut threshold = None;
    let mut approx = false;
    let mut limit: Option<usize> = None;
    let mut no_mkstream = false;
    let mut refs: Option<RefPolicy> = None;
    let mut i = start;
    let mut id_at = argv.len();
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        if xadd && opt.as_ref() == b"*" {
            id_at = i;
            break;
        }
        let maxlen = opt.eq_ignore_ascii_case(b"MAXLEN");
        if (maxlen || opt.eq_ignore_ascii_case(b"MINID")) && more > 0 {
            if threshold.is_some() {
                return Err(Reply::error(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            let next = &argv[i + 1];
            if more >= 2 && (next.as_ref() == b"~" || next.as_ref() == b"=") {
                approx = next.as_ref() == b"~";
                i += 1;
            }
            let arg = &argv[i + 1];
            threshold = Some(if maxlen {
                let Some(n) = parse_i64(arg) else {
                    return Err(Reply::error(crate::cmd::errors::NOT_INTEGER));
                };
                let Ok(n) = usize::try_from(n) else {
                    return Err(Reply::error("ERR The MAXLEN argument must be >= 0."));
                };
                TrimTo::MaxLen(n)
            } else {
                TrimTo::MinId(parse_strict(arg)?)
            });
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"LIMIT") && more > 0 {
            let Some(n) = parse_i64(&argv[i + 1]) else {
                return Err(Reply::error(crate::cmd::errors::NOT_INTEGER));
            };
            let Ok(n) = usize::try_from(n) else {
                return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
            };
            limit = Some(n);
            i += 2;
        } else if let Some(policy) = parse_ref_policy(opt).filter(|_| refs.is_none()) {
            refs = Some(policy);
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"NOMKSTREAM") {
            no_mkstream = true;
            i += 1;
        } else if xadd {
            id_at = i;
            break;
        } else {
            return Err(Reply::error(crate::cmd::errors::SYNTAX));
        }
    }
    if xadd {
        // The ID is checked before what follows it, as Redis parses it in this loop.
        if let Some(arg) = argv.get(id_at) {
            super::id::parse_add_id(arg)?;
        }
    }
    if limit.is_some_and(|n| n > 0) && threshold.is_none() {
        return Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && threshold.is_none() {
        return Err(Reply::error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    let limit = if from_master {
        usize::MAX
    } else {
        match limit {
            Some(_) if !approx => {
                return Err(Reply::error(
                    "ERR syntax error, LIMIT cannot be used without the special ~ option",
                ));
            }
            Some(0) => usize::MAX,
            Some(n) => n,
            None if approx => approx_limit_default(node_entries_max),
            None => usize::MAX,
        }
    };
    Ok(Parsed {
        trim: threshold.map(|threshold| Trim {
            threshold,
            approx,
            limit,
            refs: refs.unwrap_or_default(),
        }),
        no_mkstream,
        id_at,
    })
}
