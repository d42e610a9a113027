//! Replication IDs: the current history's id and the previous one, valid up to an offset.

use rand::Rng;

pub const REPLID_LEN: usize = 40;
const ZERO_REPLID: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplIds {
    /// The id of the history we write (or follow, as a replica).
    pub replid: String,
    /// The id of the history we continued from, all zeros when none.
    pub replid2: String,
    /// The first offset NOT covered by `replid2` (Redis's `second_replid_offset`, the
    /// master offset + 1 at the switch), or -1.
    pub second_replid_offset: i64,
}

impl ReplIds {
    pub fn new_random() -> ReplIds {
        ReplIds {
            replid: random_replid(),
            replid2: ZERO_REPLID.to_string(),
            second_replid_offset: -1,
        }
    }

    /// A master that stops following another (REPLICAOF NO ONE) or restarts: the old history
    /// stays valid for PSYNC up to `offset` (the current end of the log).
    pub fn shift(&mut self, offset: u64) {
        self.replid2 = std::mem::replace(&mut self.replid, random_replid());
        self.second_replid_offset = offset as i64 + 1;
    }

    /// A replica that receives `+CONTINUE <new id>` from a master that itself switched
    /// history: keep ours as the previous one up to `offset`.
    pub fn adopt_continued(&mut self, new_replid: &str, offset: u64) {
        if new_replid == self.replid {
            return;
        }
        self.replid2 = std::mem::replace(&mut self.replid, new_replid.to_string());
        self.second_replid_offset = offset as i64 + 1;
    }

    /// The history a server offers in PSYNC when it starts following a master, as
    /// (replid, next offset). Nothing written under `replid` since the shift means our data
    /// is exactly `replid2`'s history up to `end_offset`, and offering that id lets a master
    /// that continued the same history (a promoted sibling, after a failover or our own
    /// restart) answer `+CONTINUE` where our fresh id would force a full sync.
    pub fn offered_history(&self, end_offset: u64) -> (&str, u64) {
        let next = end_offset + 1;
        if self.replid2 != ZERO_REPLID && self.second_replid_offset == next as i64 {
            (&self.replid2, next)
        } else {
            (&self.replid, next)
        }
    }

    /// The master accepted the `replid2` we offered at `end_offset`: undo the shift, which
    /// nothing was written under. False (and nothing changed) if that no longer holds.
    #[must_use]
    pub fn resume_previous(&mut self, offered: &str, end_offset: u64) -> bool {
        if self.offered_history(end_offset) != (offered, end_offset + 1) || offered == self.replid {
            return false;
        }
        self.replid = std::mem::replace(&mut self.replid2, ZERO_REPLID.to_string());
        self.second_replid_offset = -1;
        true
    }

    /// A replica that full-syncs takes the master's id and forgets the previous one.
    pub fn adopt_full(&mut self, replid: &str) {
        self.replid = replid.to_string();
        self.replid2 = ZERO_REPLID.to_string();
        self.second_replid_offset = -1;
    }
}

pub fn random_replid() -> String {
    let mut rng = rand::rng();
    (0..REPLID_LEN)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A replid as Redis accepts it: exactly 40 characters.
pub fn is_valid_replid(text: &str) -> bool {
    text.len() == REPLID_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_keeps_the_old_history_up_to_the_offset() {
        let mut ids = ReplIds::new_random();
        let old = ids.replid.clone();
        ids.shift(1000);
        assert_ne!(ids.replid, old);
        assert_eq!(ids.replid2, old);
        assert_eq!(ids.second_replid_offset, 1001);
        assert!(is_valid_replid(&ids.replid));
    }

    #[test]
    fn an_unwritten_shift_offers_the_previous_history() {
        let mut ids = ReplIds::new_random();
        let old = ids.replid.clone();
        assert_eq!(ids.offered_history(500), (old.as_str(), 501));
        ids.shift(1000);
        // Nothing written since the shift: the data is `old`'s history up to 1000.
        assert_eq!(ids.offered_history(1000), (old.as_str(), 1001));
        // Writes under the new id make the histories differ.
        assert_eq!(ids.offered_history(1001), (ids.replid.as_str(), 1002));
        assert!(!ids.resume_previous(&old, 1001), "written since the shift");
        assert!(ids.resume_previous(&old, 1000));
        assert_eq!(
            (ids.replid.as_str(), ids.second_replid_offset),
            (old.as_str(), -1)
        );
        assert_eq!(ids.replid2, ZERO_REPLID);
        ids.adopt_full(&random_replid());
        assert_eq!(ids.offered_history(0), (ids.replid.as_str(), 1));
    }
}
