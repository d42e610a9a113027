//! Replication IDs: the current history's id and the previous one, valid up to an offset.

use rand::Rng;

pub const REPLID_LEN: usize = 40;

/// A replication ID: 40 hexadecimal characters, as Redis makes and checks them. Valid by
/// construction, so nothing downstream checks a length again; `Copy`, so records and
/// messages carry it without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplId([u8; REPLID_LEN]);

impl ReplId {
    /// All zeros: "no previous history" (Redis's `replid2` when there is none).
    pub const ZERO: ReplId = ReplId([b'0'; REPLID_LEN]);

    pub fn random() -> ReplId {
        let mut rng = rand::rng();
        let mut id = [0u8; REPLID_LEN];
        for b in &mut id {
            *b = b"0123456789abcdef"[rng.random_range(0..16)];
        }
        ReplId(id)
    }

    /// A replid as Redis accepts it: exactly 40 hexadecimal characters.
    pub fn parse(text: &[u8]) -> Option<ReplId> {
        let id: [u8; REPLID_LEN] = text.try_into().ok()?;
        id.iter().all(u8::is_ascii_hexdigit).then_some(ReplId(id))
    }

    pub fn parse_str(text: &str) -> Option<ReplId> {
        ReplId::parse(text.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; REPLID_LEN] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Hex digits only (checked by every constructor): always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn is_zero(&self) -> bool {
        *self == ReplId::ZERO
    }
}

impl std::fmt::Display for ReplId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for ReplId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplId({})", self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplIds {
    /// The id of the history we write (or follow, as a replica).
    pub replid: ReplId,
    /// The id of the history we continued from, all zeros when none.
    pub replid2: ReplId,
    /// The first offset NOT covered by `replid2` (Redis's `second_replid_offset`, the
    /// master offset + 1 at the switch), or -1.
    pub second_replid_offset: i64,
}

impl ReplIds {
    pub fn new_random() -> ReplIds {
        ReplIds {
            replid: ReplId::random(),
            replid2: ReplId::ZERO,
            second_replid_offset: -1,
        }
    }

    /// A master that stops following another (REPLICAOF NO ONE) or restarts: the old history
    /// stays valid for PSYNC up to `offset` (the current end of the log).
    pub fn shift(&mut self, offset: u64) {
        self.replid2 = std::mem::replace(&mut self.replid, ReplId::random());
        self.second_replid_offset = offset as i64 + 1;
    }

    /// A replica that receives `+CONTINUE <new id>` from a master that itself switched
    /// history: keep ours as the previous one up to `offset`.
    pub fn adopt_continued(&mut self, new_replid: ReplId, offset: u64) {
        if new_replid == self.replid {
            return;
        }
        self.replid2 = std::mem::replace(&mut self.replid, new_replid);
        self.second_replid_offset = offset as i64 + 1;
    }

    /// The history a server offers in PSYNC when it starts following a master, as
    /// (replid, next offset). Nothing written under `replid` since the shift means our data
    /// is exactly `replid2`'s history up to `end_offset`, and offering that id lets a master
    /// that continued the same history (a promoted sibling, after a failover or our own
    /// restart) answer `+CONTINUE` where our fresh id would force a full sync.
    pub fn offered_history(&self, end_offset: u64) -> (ReplId, u64) {
        let next = end_offset + 1;
        if !self.replid2.is_zero() && self.second_replid_offset == next as i64 {
            (self.replid2, next)
        } else {
            (self.replid, next)
        }
    }

    /// The master accepted the `replid2` we offered at `end_offset`: undo the shift, which
    /// nothing was written under. False (and nothing changed) if that no longer holds.
    #[must_use]
    pub fn resume_previous(&mut self, offered: ReplId, end_offset: u64) -> bool {
        if self.offered_history(end_offset) != (offered, end_offset + 1) || offered == self.replid {
            return false;
        }
        self.replid = std::mem::replace(&mut self.replid2, ReplId::ZERO);
        self.second_replid_offset = -1;
        true
    }

    /// A replica that full-syncs takes the master's id and forgets the previous one.
    pub fn adopt_full(&mut self, replid: ReplId) {
        self.replid = replid;
        self.replid2 = ReplId::ZERO;
        self.second_replid_offset = -1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_keeps_the_old_history_up_to_the_offset() {
        let mut ids = ReplIds::new_random();
        let old = ids.replid;
        ids.shift(1000);
        assert_ne!(ids.replid, old);
        assert_eq!(ids.replid2, old);
        assert_eq!(ids.second_replid_offset, 1001);
        assert_eq!(ReplId::parse(ids.replid.as_bytes()), Some(ids.replid));
    }

    #[test]
    fn an_unwritten_shift_offers_the_previous_history() {
        let mut ids = ReplIds::new_random();
        let old = ids.replid;
        assert_eq!(ids.offered_history(500), (old, 501));
        ids.shift(1000);
        // Nothing written since the shift: the data is `old`'s history up to 1000.
        assert_eq!(ids.offered_history(1000), (old, 1001));
        // Writes under the new id make the histories differ.
        assert_eq!(ids.offered_history(1001), (ids.replid, 1002));
        assert!(!ids.resume_previous(old, 1001), "written since the shift");
        assert!(ids.resume_previous(old, 1000));
        assert_eq!((ids.replid, ids.second_replid_offset), (old, -1));
        assert_eq!(ids.replid2, ReplId::ZERO);
        ids.adopt_full(ReplId::random());
        assert_eq!(ids.offered_history(0), (ids.replid, 1));
    }

    #[test]
    fn only_forty_hex_digits_make_a_replid() {
        let text = "0123456789abcdefABCDEF0123456789abcdef01";
        assert_eq!(
            ReplId::parse_str(text).map(|id| id.to_string()),
            Some(text.into())
        );
        for bad in [
            "",
            "?",
            &text[..39],
            &format!("{text}0"),
            &text.replace('a', "g"),
        ] {
            assert_eq!(ReplId::parse_str(bad), None, "{bad:?}");
        }
        assert!(ReplId::ZERO.is_zero());
        assert_ne!(ReplId::random(), ReplId::random());
    }
}
