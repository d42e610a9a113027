//! The master's answer to `PSYNC <replid> <offset>`: continue from the log, or full resync.
//! Pure, so that every case is driven directly by unit tests.

use super::ids::{ReplId, ReplIds};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullResyncReason {
    /// `PSYNC ? -1` or plain SYNC.
    Requested,
    /// The replica follows a history we do not have (or no longer cover at its offset).
    UnknownHistory,
    /// The history matches but the log does not hold the offset any more (or not yet).
    OffsetNotInLog {
        requested: u64,
        log_start: u64,
        log_end: u64,
    },
    /// The offset argument is not a number.
    BadOffset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncDecision {
    /// Stream from log offset `from` (the replica has every byte before it).
    Continue {
        from: u64,
    },
    FullResync(FullResyncReason),
}

/// Decides a PSYNC. `offset_arg` is what the replica sent: the offset of the next byte it
/// needs, i.e. its processed offset + 1. The log holds bytes `log_start+1 ..= log_end`
/// (Redis numbering), so the request can continue if `log_start+1 <= offset_arg <= log_end+1`.
pub fn decide(
    replid_arg: &str,
    offset_arg: &str,
    ids: &ReplIds,
    log_start: u64,
    log_end: u64,
) -> PsyncDecision {
    if replid_arg == "?" {
        return PsyncDecision::FullResync(FullResyncReason::Requested);
    }
    let Ok(next_byte) = offset_arg.parse::<i64>() else {
        return PsyncDecision::FullResync(FullResyncReason::BadOffset);
    };
    // Anything but 40 hex digits names no history of ours.
    let same_history = ReplId::parse_str(replid_arg).is_some_and(|id| {
        id == ids.replid || (id == ids.replid2 && next_byte <= ids.second_replid_offset)
    });
    if !same_history {
        return PsyncDecision::FullResync(FullResyncReason::UnknownHistory);
    }
    if next_byte < 1 {
        return PsyncDecision::FullResync(FullResyncReason::BadOffset);
    }
    let next_byte = next_byte as u64;
    if next_byte < log_start + 1 || next_byte > log_end + 1 {
        return PsyncDecision::FullResync(FullResyncReason::OffsetNotInLog {
            requested: next_byte,
            log_start,
            log_end,
        });
    }
    PsyncDecision::Continue {
        from: next_byte - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> ReplIds {
        ReplIds {
            replid: ReplId::parse_str(&"a".repeat(40)).unwrap(),
            replid2: ReplId::parse_str(&"b".repeat(40)).unwrap(),
            second_replid_offset: 501,
        }
    }

    #[test]
    fn question_mark_requests_full_sync() {
        assert_eq!(
            decide("?", "-1", &ids(), 0, 100),
            PsyncDecision::FullResync(FullResyncReason::Requested)
        );
    }

    #[test]
    fn continue_within_the_log() {
        let a = "a".repeat(40);
        assert_eq!(
            decide(&a, "101", &ids(), 0, 100),
            PsyncDecision::Continue { from: 100 }
        );
        assert_eq!(
            decide(&a, "1", &ids(), 0, 100),
            PsyncDecision::Continue { from: 0 }
        );
        assert_eq!(
            decide(&a, "51", &ids(), 50, 100),
            PsyncDecision::Continue { from: 50 }
        );
    }

    #[test]
    fn offsets_outside_the_log_need_a_full_sync() {
        let a = "a".repeat(40);
        assert!(matches!(
            decide(&a, "50", &ids(), 50, 100),
            PsyncDecision::FullResync(FullResyncReason::OffsetNotInLog { .. })
        ));
        // A replica claiming more than we ever wrote has a divergent history.
        assert!(matches!(
            decide(&a, "102", &ids(), 0, 100),
            PsyncDecision::FullResync(FullResyncReason::OffsetNotInLog { .. })
        ));
        assert_eq!(
            decide(&a, "x", &ids(), 0, 100),
            PsyncDecision::FullResync(FullResyncReason::BadOffset)
        );
    }

    #[test]
    fn previous_history_is_valid_only_up_to_the_switch() {
        let b = "b".repeat(40);
        assert_eq!(
            decide(&b, "501", &ids(), 0, 1000),
            PsyncDecision::Continue { from: 500 }
        );
        assert_eq!(
            decide(&b, "502", &ids(), 0, 1000),
            PsyncDecision::FullResync(FullResyncReason::UnknownHistory)
        );
        assert_eq!(
            decide(&"c".repeat(40), "10", &ids(), 0, 1000),
            PsyncDecision::FullResync(FullResyncReason::UnknownHistory)
        );
    }
}
