//! Where a restart resumes: which data to load and from which offset to replay the durable
//! log, decided from what the RDB file and the log say about themselves. Pure, so each case
//! is driven by unit tests; the start-up code gathers the inputs and carries the plan out.
//!
//! The rule: the log may be replayed onto a snapshot only when it holds the snapshot's
//! offset and the records around that offset belong to the snapshot's history. Anything
//! else would apply commands to data they were not written for, so the log is dropped
//! instead (replicas of ours then resync in full: slower, never wrong).

use super::meta::LogMeta;
use crate::log::ReplId;

/// The replication position an RDB file records in its aux fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbHistory {
    pub replid: ReplId,
    pub offset: u64,
}

/// What the durable log holds, as far as the plan needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogView<'a> {
    pub meta: Option<&'a LogMeta>,
    pub start: u64,
    pub end: u64,
    /// Replid of the record that ends at the candidate base offset, if any.
    pub replid_before: Option<ReplId>,
    /// Replid of the record that starts at the candidate base offset, if any.
    pub replid_after: Option<ReplId>,
}

/// The data a restart loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// The RDB file.
    Rdb,
    /// Nothing: the empty dataset.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Load `data`, then replay the log from `from` to its end.
    Replay { data: Data, from: u64 },
    /// Load `data` and start the log afresh at `offset` (history `replid`, when known).
    Fresh {
        data: Data,
        offset: u64,
        replid: Option<ReplId>,
        /// Why the log could not be used, when it held something: logged.
        reason: Option<String>,
    },
}

/// The offset whose surroundings [`plan`] looks at: the RDB's, or the log's empty base.
pub fn candidate_base(
    rdb_file: bool,
    rdb: Option<&RdbHistory>,
    meta: Option<&LogMeta>,
) -> Option<u64> {
    match (rdb_file, rdb, meta) {
        (true, Some(h), _) => Some(h.offset),
        (false, _, Some(m)) if m.base.empty => Some(m.base.offset),
        _ => None,
    }
}

/// `rdb_file`: an RDB file exists (and loaded); `rdb`: the history its aux fields give.
pub fn plan(rdb_file: bool, rdb: Option<&RdbHistory>, log: &LogView) -> Plan {
    let data = if rdb_file { Data::Rdb } else { Data::Empty };
    let fresh = |reason: Option<String>| Plan::Fresh {
        data,
        offset: rdb.map_or(0, |h| h.offset),
        replid: rdb.map(|h| h.replid),
        reason,
    };
    let Some(meta) = log.meta else {
        // A log never written (first start, or one that held nothing usable).
        return fresh(None);
    };
    let (base_offset, base_replid) = match (rdb_file, rdb) {
        (true, Some(h)) => (h.offset, h.replid),
        (true, None) => {
            return fresh(Some(
                "the RDB file has no replication offset: the log cannot be replayed onto it".into(),
            ));
        }
        (false, _) if meta.base.empty => (meta.base.offset, meta.base.replid),
        (false, _) => {
            return fresh(Some(format!(
                "the log continues the snapshot at offset {}, but there is no RDB file",
                meta.base.offset
            )));
        }
    };
    if base_offset < log.start || base_offset > log.end {
        return fresh(Some(format!(
            "the snapshot at offset {base_offset} ({base_replid}) is outside the log ({}..{})",
            log.start, log.end
        )));
    }
    // The records around the offset carry the snapshot's history, or the log was started
    // from exactly this snapshot (a master restarted from it writes under a new replid).
    let same_history = log.replid_before == Some(base_replid)
        || log.replid_after == Some(base_replid)
        || (base_offset == meta.base.offset && base_replid == meta.base.replid)
        || (log.replid_before.is_none()
            && log.replid_after.is_none()
            && (base_replid == meta.ids.replid || base_replid == meta.ids.replid2));
    if !same_history {
        return fresh(Some(format!(
            "the snapshot at offset {base_offset} belongs to history {base_replid}, the log there to {}",
            log.replid_after
                .or(log.replid_before)
                .map_or_else(|| "?".to_string(), |id| id.to_string())
        )));
    }
    Plan::Replay {
        data,
        from: base_offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::meta::LogBase;
    use crate::log::ReplIds;

    /// A replid of 40 times `c` (a hex digit).
    fn id(c: char) -> ReplId {
        ReplId::parse_str(&c.to_string().repeat(40)).unwrap()
    }

    fn meta(base_offset: u64, empty: bool) -> LogMeta {
        LogMeta {
            ids: ReplIds {
                replid: id('a'),
                replid2: id('0'),
                second_replid_offset: -1,
            },
            log_start: 100,
            base: LogBase {
                offset: base_offset,
                replid: id('a'),
                empty,
            },
        }
    }

    fn view(meta: &LogMeta, before: Option<ReplId>, after: Option<ReplId>) -> LogView<'_> {
        LogView {
            meta: Some(meta),
            start: 100,
            end: 900,
            replid_before: before,
            replid_after: after,
        }
    }

    fn rdb(replid: ReplId, offset: u64) -> RdbHistory {
        RdbHistory { replid, offset }
    }

    #[test]
    fn a_snapshot_inside_the_log_replays_from_its_offset() {
        let m = meta(100, false);
        let a = id('a');
        let plan = plan(true, Some(&rdb(a, 500)), &view(&m, Some(a), Some(a)));
        assert_eq!(
            plan,
            Plan::Replay {
                data: Data::Rdb,
                from: 500
            }
        );
    }

    #[test]
    fn the_empty_base_replays_without_a_file() {
        let m = meta(100, true);
        let a = id('a');
        assert_eq!(candidate_base(false, None, Some(&m)), Some(100));
        let plan = plan(false, None, &view(&m, None, Some(a)));
        assert_eq!(
            plan,
            Plan::Replay {
                data: Data::Empty,
                from: 100
            }
        );
    }

    #[test]
    fn a_missing_file_the_log_needs_gives_a_fresh_start() {
        let m = meta(300, false);
        assert!(matches!(
            plan(false, None, &view(&m, None, None)),
            Plan::Fresh {
                data: Data::Empty,
                reason: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn a_snapshot_of_another_history_is_never_replayed_onto() {
        // A replica full-synced to history b at 500 (log reset there) but crashed before its
        // new RDB was written: the old file says history a at 500.
        let a = id('a');
        let b = id('b');
        let mut m = meta(500, false);
        m.base.replid = b;
        m.ids.replid = b;
        let plan = plan(true, Some(&rdb(a, 500)), &view(&m, None, Some(b)));
        assert!(
            matches!(&plan, Plan::Fresh { offset: 500, replid: Some(r), reason: Some(_), .. } if *r == a),
            "{plan:?}"
        );
    }

    #[test]
    fn a_snapshot_outside_the_log_gives_a_fresh_start_at_its_offset() {
        let m = meta(100, false);
        let a = id('a');
        for offset in [50, 901] {
            let plan = plan(true, Some(&rdb(a, offset)), &view(&m, None, None));
            assert!(matches!(plan, Plan::Fresh { offset: o, .. } if o == offset));
        }
    }

    #[test]
    fn a_history_switch_exactly_at_the_snapshot_is_accepted() {
        // Master restarted at 500: records before carry a, after carry c; the snapshot taken
        // right after the restart carries c.
        let m = meta(100, false);
        let a = id('a');
        let c = id('c');
        let plan = plan(true, Some(&rdb(c, 500)), &view(&m, Some(a), Some(c)));
        assert_eq!(
            plan,
            Plan::Replay {
                data: Data::Rdb,
                from: 500
            }
        );
    }

    #[test]
    fn a_master_restarted_from_a_file_continues_it_under_a_new_replid() {
        // The log was started at the file's offset (base), then written under replid c.
        let mut m = meta(500, false);
        let c = id('c');
        let a = id('a');
        m.ids.replid = c;
        let plan = plan(true, Some(&rdb(a, 500)), &view(&m, None, Some(c)));
        assert_eq!(
            plan,
            Plan::Replay {
                data: Data::Rdb,
                from: 500
            }
        );
    }

    #[test]
    fn no_log_no_reason() {
        let a = id('a');
        let log = LogView {
            meta: None,
            start: 0,
            end: 0,
            replid_before: None,
            replid_after: None,
        };
        assert_eq!(
            plan(true, Some(&rdb(a, 7)), &log),
            Plan::Fresh {
                data: Data::Rdb,
                offset: 7,
                replid: Some(a),
                reason: None
            }
        );
    }
}
