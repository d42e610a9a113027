//! Sorted set: a member → score map plus an ordered index by (score, member).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::collections::btree_set::Range;
use std::ops::Bound;

use bytes::Bytes;

use super::value::FastMap;

/// A score with the total order Redis uses (scores are never NaN inside a set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: FastMap<Bytes, f64>,
    ordered: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Inserts or updates; returns the previous score.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        // -0.0 and 0.0 are the same score to Redis; keep one representation so the order
        // index and the map agree.
        let score = if score == 0.0 { 0.0 } else { score };
        let previous = self.scores.insert(member.clone(), score);
        if let Some(old) = previous {
            if old == score {
                return previous;
            }
            self.ordered.remove(&(Score(old), member.clone()));
        }
        self.ordered.insert((Score(score), member));
        previous
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (key, score) = self.scores.remove_entry(member)?;
        self.ordered.remove(&(Score(score), key));
        Some(score)
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = (Score(score), Bytes::copy_from_slice(member));
        Some(self.ordered.range(..key).count())
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.ordered.iter().map(|(s, m)| (m, s.0))
    }

    /// Members with score within `min`..`max`, ascending; reverse it for descending order.
    pub fn range_by_score(
        &self,
        min: Bound<f64>,
        max: Bound<f64>,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        let zero = |v: f64| if v == 0.0 { 0.0 } else { v };
        // Members order after their score, so "after every member of score v" is expressed as
        // "before the first member of the next representable score".
        let low = match min {
            Bound::Unbounded => None,
            Bound::Included(v) => Some(zero(v)),
            Bound::Excluded(v) if v == f64::INFINITY => return self.empty_range(),
            Bound::Excluded(v) => Some(zero(v).next_up()),
        };
        let high = match max {
            Bound::Unbounded => None,
            Bound::Included(v) if v == f64::INFINITY => None,
            Bound::Included(v) => Some(zero(v).next_up()),
            Bound::Excluded(v) => Some(zero(v)),
        };
        if let (Some(l), Some(h)) = (low, high) {
            if Score(l) >= Score(h) {
                return self.empty_range();
            }
        }
        let start = low.map_or(Bound::Unbounded, |l| {
            Bound::Included((Score(l), Bytes::new()))
        });
        let end = high.map_or(Bound::Unbounded, |h| {
            Bound::Excluded((Score(h), Bytes::new()))
        });
        self.ordered
            .range((start, end))
            .map(split_entry as ScoreMember)
    }

    fn empty_range(&self) -> std::iter::Map<Range<'_, (Score, Bytes)>, ScoreMember> {
        let at = (Score(0.0), Bytes::new());
        self.ordered
            .range((Bound::Included(at.clone()), Bound::Excluded(at)))
            .map(split_entry as ScoreMember)
    }

    /// Members between two lexicographic bounds (for sets whose scores are all equal).
    pub fn range_by_lex(
        &self,
        min: Bound<&[u8]>,
        max: Bound<&[u8]>,
    ) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        let in_min = move |m: &[u8]| match min {
            Bound::Unbounded => true,
            Bound::Included(b) => m >= b,
            Bound::Excluded(b) => m > b,
        };
        let in_max = move |m: &[u8]| match max {
            Bound::Unbounded => true,
            Bound::Included(b) => m <= b,
            Bound::Excluded(b) => m < b,
        };
        self.ordered
            .iter()
            .filter(move |(_, m)| in_min(m) && in_max(m))
            .map(|(s, m)| (m, s.0))
    }
}

type ScoreMember = for<'a> fn(&'a (Score, Bytes)) -> (&'a Bytes, f64);

fn split_entry(entry: &(Score, Bytes)) -> (&Bytes, f64) {
    (&entry.1, entry.0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zset(items: &[(&str, f64)]) -> ZSet {
        let mut z = ZSet::default();
        for (m, s) in items {
            z.insert(Bytes::copy_from_slice(m.as_bytes()), *s);
        }
        z
    }

    fn names<'a>(it: impl Iterator<Item = (&'a Bytes, f64)>) -> Vec<String> {
        it.map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn score_ranges_respect_exclusive_bounds() {
        let z = zset(&[
            ("a", 1.0),
            ("b", 2.0),
            ("c", 2.0),
            ("d", f64::INFINITY),
            ("e", -0.0),
        ]);
        assert_eq!(
            names(z.range_by_score(Bound::Included(2.0), Bound::Included(2.0))),
            ["b", "c"]
        );
        assert_eq!(
            names(z.range_by_score(Bound::Excluded(1.0), Bound::Excluded(f64::INFINITY))),
            ["b", "c"]
        );
        assert_eq!(
            names(z.range_by_score(Bound::Excluded(2.0), Bound::Included(f64::INFINITY))),
            ["d"]
        );
        assert_eq!(
            names(z.range_by_score(Bound::Included(0.0), Bound::Included(0.0))),
            ["e"]
        );
        assert!(names(z.range_by_score(Bound::Included(3.0), Bound::Included(1.0))).is_empty());
        assert!(names(z.range_by_score(Bound::Excluded(2.0), Bound::Excluded(2.0))).is_empty());
        assert_eq!(
            names(z.range_by_score(Bound::Unbounded, Bound::Unbounded).rev()),
            ["d", "c", "b", "a", "e"]
        );
        assert_eq!(z.rank(b"c"), Some(3));
    }
}
