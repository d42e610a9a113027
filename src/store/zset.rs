//! Sorted set: a member → score map plus an order-statistic index by (score, member).
//!
//! The index is a B+ tree whose leaves hold up to 64 entries in contiguous arrays and whose
//! internal nodes count the entries under each child: rank queries, access by rank and the
//! bounds of score or lexicographic ranges are O(log n) with few cache misses, and range
//! iteration walks the leaves in either direction. The set also remembers whether Redis
//! would hold it in its compact (listpack) encoding, because a few replies depend on it: the
//! compact form stores `-0` as `0`, and ZSCAN returns the whole compact set at once with
//! scores printed as integers where they are integral.
//!
//! Small sets have no member map: a scan of the index's members finds a member as fast as a
//! hash probe at that size, and the map would double the memory of the typical small set
//! (an entry, a shared copy of the member and half-empty buckets per member).

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::ops::Bound;

use bytes::Bytes;

use super::fast::FastMap;

/// A score with a total order (scores are never NaN inside a set).
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

/// Size limits of Redis's compact sorted-set encoding (`zset-max-listpack-entries` and
/// `zset-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactLimits {
    pub max_entries: usize,
    pub max_value_bytes: usize,
}

impl Default for CompactLimits {
    fn default() -> Self {
        CompactLimits {
            max_entries: 128,
            max_value_bytes: 64,
        }
    }
}

/// Redis refuses to grow a listpack past 1 GiB.
const LISTPACK_SAFETY_BYTES: usize = 1 << 30;

/// One end of a lexicographic range (ZRANGEBYLEX's `-`, `+`, `[x`, `(x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: before every string.
    Min,
    /// `+`: after every string.
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

impl LexBound {
    /// True if `member` is at or after this bound used as a range minimum.
    pub fn admits_from_below(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(b) => member >= b.as_ref(),
            LexBound::Exclusive(b) => member > b.as_ref(),
        }
    }

    /// True if `member` is at or before this bound used as a range maximum.
    pub fn admits_from_above(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => member <= b.as_ref(),
            LexBound::Exclusive(b) => member < b.as_ref(),
        }
    }
}

/// A score interval with optionally open ends (ZRANGEBYSCORE's `(1.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
    pub max_exclusive: bool,
}

impl ScoreRange {
    pub fn admits_from_below(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    pub fn admits_from_above(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// Sets up to this many members have no member map (one leaf's worth, so the scan reads
/// one contiguous array).
const MAPLESS_MEMBERS_MAX: usize = LEAF_CAPACITY;

/// Seeds the scan hash of members: fixed, so that a cursor stays valid whichever form the
/// set is in and however often it changes.
const MEMBER_HASH_SEED: u64 = 0x5ca7_7e12_2e75_0001;

#[derive(Debug, Clone)]
pub struct ZSet {
    /// Member → score; `None` while the set has at most [`MAPLESS_MEMBERS_MAX`] members.
    scores: Option<Box<FastMap<Bytes, f64>>>,
    tree: Tree,
    compact: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            scores: None,
            tree: Tree::new(),
            compact: true,
        }
    }
}

impl ZSet {
    /// An empty set in the encoding Redis would pick for it.
    pub fn with_encoding(compact: bool) -> ZSet {
        ZSet {
            compact,
            ..ZSet::default()
        }
    }

    pub fn len(&self) -> usize {
        self.tree.len
    }

    pub fn is_empty(&self) -> bool {
        self.tree.len == 0
    }

    /// True while Redis would keep this set as a listpack.
    pub fn is_compact(&self) -> bool {
        self.compact
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.scores {
            Some(map) => map.get(member).copied(),
            None => self.iter().find(|(m, _)| m[..] == *member).map(|(_, s)| s),
        }
    }

    /// Builds the member map once the set outgrows scans.
    fn map_if_large(&mut self) {
        if self.scores.is_some() || self.len() <= MAPLESS_MEMBERS_MAX {
            return;
        }
        let mut map = FastMap::with_capacity_and_hasher(self.len(), Default::default());
        for (member, score) in self.tree.iter_ranks(0, self.tree.len) {
            map.insert(member.clone(), score);
        }
        self.scores = Some(Box::new(map));
    }

    /// Builds a set from a dump's members; `None` if a member repeats. `compact` is the
    /// encoding Redis would load it in. A set of one leaf is sorted and laid down at once
    /// (inserting would search it for every member); a larger one is inserted member by
    /// member through its map.
    pub fn from_unique_members(
        mut entries: Vec<(Bytes, f64)>,
        compact: bool,
        limits: CompactLimits,
    ) -> Option<ZSet> {
        let mut zset = ZSet::with_encoding(compact);
        if entries.len() > MAPLESS_MEMBERS_MAX {
            let declared = entries.len();
            for (member, score) in entries {
                zset.insert_with_limits(member, score, limits);
            }
            return (zset.len() == declared).then_some(zset);
        }
        if !super::hash::all_distinct(entries.iter().map(|(m, _)| &m[..])) {
            return None;
        }
        if compact {
            // The listpack stores integral scores as integers, which turns -0 into 0.
            for (_, score) in &mut entries {
                if *score == 0.0 {
                    *score = 0.0;
                }
            }
        }
        // Dumps hold sorted sets in order, so the sort is usually a check.
        let order = |(ma, sa): &(Bytes, f64), (mb, sb): &(Bytes, f64)| compare(*sa, ma, *sb, mb);
        if !entries.is_sorted_by(|a, b| order(a, b) != Ordering::Greater) {
            entries.sort_unstable_by(order);
        }
        zset.tree = Tree::from_sorted_leaf(entries);
        Some(zset)
    }

    /// Inserts or updates with the default compact-encoding limits; returns the previous
    /// score.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        self.insert_with_limits(member, score, CompactLimits::default())
    }

    /// Inserts or updates; a new member that does not fit the compact encoding converts
    /// the set first, as Redis does before adding it. Returns the previous score.
    pub fn insert_with_limits(
        &mut self,
        member: Bytes,
        score: f64,
        limits: CompactLimits,
    ) -> Option<f64> {
        // The listpack stores integral scores as integers, which turns -0 into 0.
        let normalize = |compact: bool| {
            if compact && score == 0.0 { 0.0 } else { score }
        };
        let updated = normalize(self.compact);
        // One probe of the map where there is one: the score is swapped in the same step.
        let previous = match self.scores.as_mut() {
            Some(map) => map
                .get_mut(&member[..])
                .map(|stored| std::mem::replace(stored, updated)),
            None => self.score(&member),
        };
        if let Some(previous) = previous {
            if previous.to_bits() == updated.to_bits() {
                return Some(previous);
            }
            // The index gives back the stored bytes: the caller's may be a slice of a
            // larger buffer that must not be pinned.
            let stored = self.tree.remove(previous, &member).unwrap_or(member);
            self.tree.insert(updated, stored);
            return Some(previous);
        }
        if self.compact
            && (self.len() + 1 > limits.max_entries || member.len() > limits.max_value_bytes)
        {
            self.compact = false;
        }
        let score = normalize(self.compact);
        if let Some(map) = &mut self.scores {
            map.insert(member.clone(), score);
        }
        self.tree.insert(score, member);
        self.map_if_large();
        None
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = match self.scores.as_mut() {
            Some(map) => map.remove(member)?,
            None => self.score(member)?,
        };
        self.tree.remove(score, member);
        Some(score)
    }

    /// Converts back to the compact encoding if the set fits it (what Redis does to the
    /// results of ZUNIONSTORE and friends).
    pub fn fit_compact(&mut self, limits: CompactLimits) {
        if self.compact || self.len() > limits.max_entries {
            return;
        }
        let mut longest = 0;
        let mut total = 0;
        for (member, _) in self.iter() {
            longest = longest.max(member.len());
            total += member.len();
        }
        if longest > limits.max_value_bytes || total > LISTPACK_SAFETY_BYTES {
            return;
        }
        self.compact = true;
        let negative_zeros: Vec<Bytes> = self
            .iter()
            .filter(|(_, s)| s.to_bits() == (-0.0f64).to_bits())
            .map(|(m, _)| m.clone())
            .collect();
        for member in negative_zeros {
            self.insert_with_limits(member, 0.0, limits);
        }
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.tree.rank(score, member))
    }

    /// The member at a 0-based ascending rank.
    pub fn by_rank(&self, rank: usize) -> Option<(&Bytes, f64)> {
        self.tree.select(rank)
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> RankIter<'_> {
        self.tree.iter_ranks(0, self.len())
    }

    /// Members with ascending ranks in `start..end` (clamped to the set).
    pub fn iter_ranks(&self, start: usize, end: usize) -> RankIter<'_> {
        let end = end.min(self.len());
        self.tree.iter_ranks(start.min(end), end)
    }

    /// The ranks `start..end` of the members within a score range.
    pub fn score_range_ranks(&self, range: &ScoreRange) -> (usize, usize) {
        let start = self
            .tree
            .count_prefix(|score, _| !range.admits_from_below(score));
        let end = self
            .tree
            .count_prefix(|score, _| range.admits_from_above(score));
        (start, end.max(start))
    }

    /// The ranks `start..end` of the members within a lexicographic range (meaningful when
    /// all scores are equal, as in Redis).
    pub fn lex_range_ranks(&self, min: &LexBound, max: &LexBound) -> (usize, usize) {
        let start = self
            .tree
            .count_prefix(|_, member| !min.admits_from_below(member));
        let end = self
            .tree
            .count_prefix(|_, member| max.admits_from_above(member));
        (start, end.max(start))
    }

    /// Whether a lexicographic range can select anything (Redis's `zslIsInLexRange`): the
    /// bounds are not inverted, the last member is not below `min` and the first not above
    /// `max`.
    fn lex_range_possible(&self, min: &LexBound, max: &LexBound) -> bool {
        let min_exclusive = !matches!(min, LexBound::Inclusive(_));
        let max_exclusive = !matches!(max, LexBound::Inclusive(_));
        match compare_lex_bounds(min, max) {
            Ordering::Greater => return false,
            Ordering::Equal if min_exclusive || max_exclusive => return false,
            _ => {}
        }
        match (self.by_rank(self.len().wrapping_sub(1)), self.by_rank(0)) {
            (Some((last, _)), Some((first, _))) => {
                min.admits_from_below(last) && max.admits_from_above(first)
            }
            _ => false,
        }
    }

    /// Rank of the first member of a lexicographic range, found the way Redis finds it: by
    /// a scan from the start in the compact encoding, by a descent of the ordered index
    /// otherwise. The two agree when all scores are equal (the case the lexicographic
    /// commands are meant for) and reproduce Redis's answers for compact sets otherwise.
    pub fn lex_first_in_range(&self, min: &LexBound, max: &LexBound) -> Option<usize> {
        if !self.lex_range_possible(min, max) {
            return None;
        }
        let first = if self.compact {
            self.iter().position(|(m, _)| min.admits_from_below(m))?
        } else {
            self.tree.count_prefix(|_, m| !min.admits_from_below(m))
        };
        let (member, _) = self.by_rank(first)?;
        max.admits_from_above(member).then_some(first)
    }

    /// Rank of the last member of a lexicographic range (see [`ZSet::lex_first_in_range`]).
    pub fn lex_last_in_range(&self, min: &LexBound, max: &LexBound) -> Option<usize> {
        if !self.lex_range_possible(min, max) {
            return None;
        }
        let last = if self.compact {
            let from_end = self
                .iter()
                .rev()
                .position(|(m, _)| max.admits_from_above(m))?;
            self.len() - 1 - from_end
        } else {
            self.tree
                .count_prefix(|_, m| max.admits_from_above(m))
                .checked_sub(1)?
        };
        let (member, _) = self.by_rank(last)?;
        min.admits_from_below(member).then_some(last)
    }

    /// Rank where ZREMRANGEBYLEX starts deleting: like [`ZSet::lex_first_in_range`] in the
    /// compact encoding; the first member not below `min` otherwise (Redis skips the range
    /// checks there).
    pub fn lex_delete_start(&self, min: &LexBound, max: &LexBound) -> Option<usize> {
        if self.compact {
            self.lex_first_in_range(min, max)
        } else {
            Some(self.tree.count_prefix(|_, m| !min.admits_from_below(m)))
        }
    }

    /// End (exclusive) of the run of members from rank `start` that are not above `max`.
    pub fn lex_run_up(&self, start: usize, max: &LexBound) -> usize {
        start
            + self
                .iter_ranks(start, self.len())
                .take_while(|(m, _)| max.admits_from_above(m))
                .count()
    }

    /// Start (inclusive) of the run of members down from rank `last` that are not below
    /// `min`.
    pub fn lex_run_down(&self, last: usize, min: &LexBound) -> usize {
        let end = (last + 1).min(self.len());
        end - self
            .iter_ranks(0, end)
            .rev()
            .take_while(|(m, _)| min.admits_from_below(m))
            .count()
    }

    /// Members with score within `min`..`max`, ascending; reverse it for descending order.
    pub fn range_by_score(&self, min: Bound<f64>, max: Bound<f64>) -> RankIter<'_> {
        let (min, min_exclusive) = match min {
            Bound::Unbounded => (f64::NEG_INFINITY, false),
            Bound::Included(v) => (v, false),
            Bound::Excluded(v) => (v, true),
        };
        let (max, max_exclusive) = match max {
            Bound::Unbounded => (f64::INFINITY, false),
            Bound::Included(v) => (v, false),
            Bound::Excluded(v) => (v, true),
        };
        let (start, end) = self.score_range_ranks(&ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        });
        self.iter_ranks(start, end)
    }

    /// Members between two lexicographic bounds (for sets whose scores are all equal).
    pub fn range_by_lex(&self, min: Bound<&[u8]>, max: Bound<&[u8]>) -> RankIter<'_> {
        let to_lex = |b: Bound<&[u8]>, open: LexBound| match b {
            Bound::Unbounded => open,
            Bound::Included(v) => LexBound::Inclusive(Bytes::copy_from_slice(v)),
            Bound::Excluded(v) => LexBound::Exclusive(Bytes::copy_from_slice(v)),
        };
        let (start, end) =
            self.lex_range_ranks(&to_lex(min, LexBound::Min), &to_lex(max, LexBound::Max));
        self.iter_ranks(start, end)
    }

    /// Removes the members with ascending ranks in `start..end`; returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        let doomed: Vec<Bytes> = self
            .iter_ranks(start, end)
            .map(|(m, _)| m.clone())
            .collect();
        for member in &doomed {
            self.remove(member);
        }
        doomed.len()
    }

    /// A stable hash of a member for cursor-based scans (the same for the life of the set
    /// and its copies).
    pub fn member_hash(&self, member: &[u8]) -> u64 {
        foldhash::fast::FixedState::with_seed(MEMBER_HASH_SEED).hash_one(member)
    }

    /// Every member with its score, in no promised order.
    pub fn entries(&self) -> RankIter<'_> {
        self.iter()
    }
}

/// Compares lexicographic bounds like Redis's `sdscmplex`, where `-` and `+` are below and
/// above every string.
fn compare_lex_bounds(a: &LexBound, b: &LexBound) -> Ordering {
    match (a, b) {
        (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
        (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
        (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
        (
            LexBound::Inclusive(x) | LexBound::Exclusive(x),
            LexBound::Inclusive(y) | LexBound::Exclusive(y),
        ) => x.cmp(y),
    }
}

// ----- order-statistic B+ tree ----------------------------------------------------------

/// Most entries a leaf holds. A leaf keeps its scores in one array, so a search reads a few
/// adjacent cache lines instead of one scattered node per comparison.
const LEAF_CAPACITY: usize = 64;
/// Most children an internal node holds.
const INNER_CAPACITY: usize = 64;
/// Fewest entries a leaf other than the root keeps. A quarter (not half) of the capacity
/// means a node that was just merged or split needs many more operations before it has to
/// be restructured again.
const LEAF_MIN: usize = LEAF_CAPACITY / 4;
/// Fewest children an internal node other than the root keeps.
const INNER_MIN: usize = INNER_CAPACITY / 4;

/// Orders (score, member) the way Redis's skiplist does: by score with -0 equal to 0, then
/// by member bytes.
fn compare(score_a: f64, member_a: &[u8], score_b: f64, member_b: &[u8]) -> Ordering {
    match score_a.partial_cmp(&score_b) {
        Some(Ordering::Equal) | None => member_a.cmp(member_b),
        Some(order) => order,
    }
}

/// How many keys of the sorted parallel arrays order before (score, member), or at or
/// before it with `or_equal`. Members are only compared among equal scores.
fn count_below(
    scores: &[f64],
    members: &[Bytes],
    score: f64,
    member: &[u8],
    or_equal: bool,
) -> usize {
    let below = scores.partition_point(|&s| s < score);
    let tied = scores[below..].partition_point(|&s| s <= score);
    below
        + members[below..below + tied].partition_point(|m| {
            if or_equal {
                m.as_ref() <= member
            } else {
                m.as_ref() < member
            }
        })
}

/// The number of indices in `0..len` for which `before` holds, `before` being true for a
/// prefix of them (a binary search over parallel arrays).
fn partition(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if before(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

/// Sorted entries, scores and members side by side.
#[derive(Debug, Clone, Default)]
struct Leaf {
    scores: Vec<f64>,
    members: Vec<Bytes>,
}

#[derive(Debug, Clone)]
struct Inner {
    children: Vec<Node>,
    /// Entries under each child.
    sizes: Vec<usize>,
    /// `key_scores[i]`, `key_members[i]`: the first (smallest) key under child `i + 1`.
    /// Always a key that is in the set, so that range bounds are tested on real members.
    key_scores: Vec<f64>,
    key_members: Vec<Bytes>,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Leaf),
    Inner(Inner),
}

impl Inner {
    fn with_capacity() -> Inner {
        Inner {
            children: Vec::with_capacity(INNER_CAPACITY + 1),
            sizes: Vec::with_capacity(INNER_CAPACITY + 1),
            key_scores: Vec::with_capacity(INNER_CAPACITY),
            key_members: Vec::with_capacity(INNER_CAPACITY),
        }
    }

    /// The child whose key range holds (score, member).
    fn route(&self, score: f64, member: &[u8]) -> usize {
        count_below(&self.key_scores, &self.key_members, score, member, true)
    }

    /// The child holding the entry at `rank` under this node and its rank within that
    /// child (past the last child's end if `rank` is out of range).
    fn locate(&self, mut rank: usize) -> (usize, usize) {
        for (i, &size) in self.sizes.iter().enumerate() {
            if rank < size {
                return (i, rank);
            }
            rank -= size;
        }
        let last = self.sizes.len().saturating_sub(1);
        (last, rank + self.sizes.last().copied().unwrap_or(0))
    }

    /// Restores the minimum fill of child `c` (which fell below it) by merging it with a
    /// neighbour and splitting the result again if it is too big.
    fn rebalance(&mut self, c: usize) {
        if self.children.len() < 2 {
            return;
        }
        let left = c.saturating_sub(1).min(self.children.len() - 2);
        let right = self.children.remove(left + 1);
        let right_size = self.sizes.remove(left + 1);
        let key_score = self.key_scores.remove(left);
        let key_member = self.key_members.remove(left);
        self.sizes[left] += right_size;
        self.children[left].absorb(key_score, key_member, right);
        if self.children[left].overfull() {
            self.split_child(left);
        }
    }

    /// Splits child `c` in two, the upper half becoming child `c + 1`.
    fn split_child(&mut self, c: usize) {
        let (key_score, key_member, upper) = self.children[c].split();
        let upper_size = upper.size();
        self.sizes[c] -= upper_size;
        self.children.insert(c + 1, upper);
        self.sizes.insert(c + 1, upper_size);
        self.key_scores.insert(c, key_score);
        self.key_members.insert(c, key_member);
    }
}

impl Node {
    fn size(&self) -> usize {
        match self {
            Node::Leaf(leaf) => leaf.scores.len(),
            Node::Inner(inner) => inner.sizes.iter().sum(),
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(leaf) => leaf.scores.len() < LEAF_MIN,
            Node::Inner(inner) => inner.children.len() < INNER_MIN,
        }
    }

    fn overfull(&self) -> bool {
        match self {
            Node::Leaf(leaf) => leaf.scores.len() > LEAF_CAPACITY,
            Node::Inner(inner) => inner.children.len() > INNER_CAPACITY,
        }
    }

    fn first_key(&self) -> Option<(f64, &Bytes)> {
        let mut node = self;
        loop {
            match node {
                Node::Inner(inner) => node = inner.children.first()?,
                Node::Leaf(leaf) => return Some((*leaf.scores.first()?, leaf.members.first()?)),
            }
        }
    }

    /// Moves the upper half of an overfull node into a new node; returns the first key
    /// under that node and the node.
    fn split(&mut self) -> (f64, Bytes, Node) {
        match self {
            Node::Leaf(leaf) => {
                let mid = leaf.scores.len() / 2;
                let mut upper = Leaf {
                    scores: Vec::with_capacity(LEAF_CAPACITY + 1),
                    members: Vec::with_capacity(LEAF_CAPACITY + 1),
                };
                upper.scores.extend(leaf.scores.drain(mid..));
                upper.members.extend(leaf.members.drain(mid..));
                (upper.scores[0], upper.members[0].clone(), Node::Leaf(upper))
            }
            Node::Inner(inner) => {
                let mid = inner.children.len() / 2;
                let mut upper = Inner::with_capacity();
                upper.children.extend(inner.children.drain(mid..));
                upper.sizes.extend(inner.sizes.drain(mid..));
                upper.key_scores.extend(inner.key_scores.drain(mid..));
                upper.key_members.extend(inner.key_members.drain(mid..));
                // The key of child `mid` separates the halves: it moves up to the parent.
                let key_score = inner.key_scores[mid - 1];
                let key_member = inner.key_members[mid - 1].clone();
                inner.key_scores.truncate(mid - 1);
                inner.key_members.truncate(mid - 1);
                (key_score, key_member, Node::Inner(upper))
            }
        }
    }

    /// Appends `right`, a node at the same depth whose keys all order after this node's
    /// and whose first key is (`key_score`, `key_member`).
    fn absorb(&mut self, key_score: f64, key_member: Bytes, right: Node) {
        match (self, right) {
            (Node::Leaf(leaf), Node::Leaf(mut right)) => {
                leaf.scores.append(&mut right.scores);
                leaf.members.append(&mut right.members);
            }
            (Node::Inner(inner), Node::Inner(mut right)) => {
                inner.key_scores.push(key_score);
                inner.key_members.push(key_member);
                inner.key_scores.append(&mut right.key_scores);
                inner.key_members.append(&mut right.key_members);
                inner.children.append(&mut right.children);
                inner.sizes.append(&mut right.sizes);
            }
            _ => unreachable!("siblings in a B+ tree are at the same depth"),
        }
    }
}

/// Inserts below `node`; if that overfills it, splits it and returns the new upper
/// sibling with its first key.
fn insert_into(node: &mut Node, score: f64, member: Bytes) -> Option<(f64, Bytes, Node)> {
    match node {
        Node::Leaf(leaf) => {
            // A small set's only leaf grows exactly: doubling would leave up to half of the
            // typical small set's index empty. Leaves made by a split start at full capacity
            // and never get here.
            if leaf.scores.len() == leaf.scores.capacity() {
                leaf.scores.reserve_exact(1);
                leaf.members.reserve_exact(1);
            }
            let i = count_below(&leaf.scores, &leaf.members, score, &member, false);
            leaf.scores.insert(i, score);
            leaf.members.insert(i, member);
        }
        Node::Inner(inner) => {
            let c = inner.route(score, &member);
            inner.sizes[c] += 1;
            if let Some((key_score, key_member, upper)) =
                insert_into(&mut inner.children[c], score, member)
            {
                let upper_size = upper.size();
                inner.sizes[c] -= upper_size;
                inner.children.insert(c + 1, upper);
                inner.sizes.insert(c + 1, upper_size);
                inner.key_scores.insert(c, key_score);
                inner.key_members.insert(c, key_member);
            }
        }
    }
    node.overfull().then(|| node.split())
}

/// Removes (score, member) from below `node` and returns the stored member; the caller
/// restores `node`'s minimum fill.
fn remove_from(node: &mut Node, score: f64, member: &[u8]) -> Option<Bytes> {
    match node {
        Node::Leaf(leaf) => {
            let i = count_below(&leaf.scores, &leaf.members, score, member, false);
            let found = i < leaf.scores.len()
                && compare(leaf.scores[i], &leaf.members[i], score, member) == Ordering::Equal;
            if !found {
                return None;
            }
            leaf.scores.remove(i);
            Some(leaf.members.remove(i))
        }
        Node::Inner(inner) => {
            let c = inner.route(score, member);
            let removed = remove_from(&mut inner.children[c], score, member)?;
            inner.sizes[c] -= 1;
            if c > 0
                && compare(
                    inner.key_scores[c - 1],
                    &inner.key_members[c - 1],
                    score,
                    member,
                ) == Ordering::Equal
                && let Some((first_score, first_member)) = inner.children[c].first_key()
            {
                // The child's first key is gone: its successor now bounds the child.
                let first_member = first_member.clone();
                inner.key_scores[c - 1] = first_score;
                inner.key_members[c - 1] = first_member;
            }
            if inner.children[c].underfull() {
                inner.rebalance(c);
            }
            Some(removed)
        }
    }
}

/// An order-statistic B+ tree of (score, member): every leaf is at the same depth, and
/// every node but the root is at least a quarter full, so the height is O(log n).
#[derive(Debug, Clone)]
struct Tree {
    root: Node,
    len: usize,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            root: Node::Leaf(Leaf::default()),
            len: 0,
        }
    }

    /// A tree of one leaf holding `entries`, which are sorted and at most a leaf's worth.
    fn from_sorted_leaf(entries: Vec<(Bytes, f64)>) -> Tree {
        debug_assert!(entries.len() <= LEAF_CAPACITY);
        let len = entries.len();
        let mut leaf = Leaf {
            scores: Vec::with_capacity(len),
            members: Vec::with_capacity(len),
        };
        for (member, score) in entries {
            leaf.scores.push(score);
            leaf.members.push(member);
        }
        debug_assert!(leaf.scores.windows(2).all(|w| w[0] <= w[1]));
        Tree {
            root: Node::Leaf(leaf),
            len,
        }
    }

    fn insert(&mut self, score: f64, member: Bytes) {
        if let Some((key_score, key_member, upper)) = insert_into(&mut self.root, score, member) {
            let lower = std::mem::replace(&mut self.root, Node::Leaf(Leaf::default()));
            let mut root = Inner::with_capacity();
            root.sizes.push(lower.size());
            root.sizes.push(upper.size());
            root.children.push(lower);
            root.children.push(upper);
            root.key_scores.push(key_score);
            root.key_members.push(key_member);
            self.root = Node::Inner(root);
        }
        self.len += 1;
    }

    /// Removes (score, member); returns the member as stored.
    fn remove(&mut self, score: f64, member: &[u8]) -> Option<Bytes> {
        let removed = remove_from(&mut self.root, score, member)?;
        self.len -= 1;
        while let Node::Inner(inner) = &mut self.root
            && inner.children.len() == 1
            && let Some(only) = inner.children.pop()
        {
            self.root = only;
        }
        Some(removed)
    }

    /// How many entries order before (score, member).
    fn rank(&self, score: f64, member: &[u8]) -> usize {
        let mut rank = 0;
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let c = inner.route(score, member);
                    rank += inner.sizes[..c].iter().sum::<usize>();
                    node = &inner.children[c];
                }
                Node::Leaf(leaf) => {
                    return rank + count_below(&leaf.scores, &leaf.members, score, member, false);
                }
            }
        }
    }

    fn select(&self, mut rank: usize) -> Option<(&Bytes, f64)> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let (c, within) = inner.locate(rank);
                    rank = within;
                    node = inner.children.get(c)?;
                }
                Node::Leaf(leaf) => {
                    return Some((leaf.members.get(rank)?, *leaf.scores.get(rank)?));
                }
            }
        }
    }

    /// How many entries satisfy `before`, a predicate true for a prefix of the order.
    fn count_prefix(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let c = partition(inner.key_scores.len(), |i| {
                        before(inner.key_scores[i], &inner.key_members[i])
                    });
                    count += inner.sizes[..c].iter().sum::<usize>();
                    node = &inner.children[c];
                }
                Node::Leaf(leaf) => {
                    return count
                        + partition(leaf.scores.len(), |i| {
                            before(leaf.scores[i], &leaf.members[i])
                        });
                }
            }
        }
    }

    fn iter_ranks(&self, start: usize, end: usize) -> RankIter<'_> {
        RankIter {
            tree: self,
            front: None,
            back: None,
            start,
            end,
        }
    }
}

/// A position in the tree: the path of internal nodes from the root with the child taken
/// in each, and an entry of the leaf at its end.
#[derive(Clone)]
struct Cursor<'a> {
    path: Vec<(&'a Inner, usize)>,
    leaf: &'a Leaf,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn seek(tree: &'a Tree, mut rank: usize) -> Cursor<'a> {
        let mut path = Vec::new();
        let mut node = &tree.root;
        loop {
            match node {
                Node::Inner(inner) => {
                    let (c, within) = inner.locate(rank);
                    path.push((inner, c));
                    rank = within;
                    node = &inner.children[c];
                }
                Node::Leaf(leaf) => {
                    return Cursor {
                        path,
                        leaf,
                        pos: rank,
                    };
                }
            }
        }
    }

    fn entry(&self) -> Option<(&'a Bytes, f64)> {
        Some((
            self.leaf.members.get(self.pos)?,
            *self.leaf.scores.get(self.pos)?,
        ))
    }

    /// Goes down from `node` to its first (`first`) or last entry.
    fn descend(&mut self, mut node: &'a Node, first: bool) {
        loop {
            match node {
                Node::Inner(inner) => {
                    let c = if first {
                        0
                    } else {
                        inner.children.len().saturating_sub(1)
                    };
                    self.path.push((inner, c));
                    node = &inner.children[c];
                }
                Node::Leaf(leaf) => {
                    self.leaf = leaf;
                    self.pos = if first {
                        0
                    } else {
                        leaf.scores.len().saturating_sub(1)
                    };
                    return;
                }
            }
        }
    }

    /// Moves to the next entry (past the end of the last leaf after the last entry).
    fn advance(&mut self) {
        self.pos += 1;
        if self.pos < self.leaf.scores.len() {
            return;
        }
        while let Some((inner, c)) = self.path.pop() {
            if c + 1 < inner.children.len() {
                self.path.push((inner, c + 1));
                self.descend(&inner.children[c + 1], true);
                return;
            }
        }
    }

    /// Moves to the previous entry (the cursor is spent after the first entry).
    fn retreat(&mut self) {
        if self.pos > 0 {
            self.pos -= 1;
            return;
        }
        while let Some((inner, c)) = self.path.pop() {
            if c > 0 {
                self.path.push((inner, c - 1));
                self.descend(&inner.children[c - 1], false);
                return;
            }
        }
    }
}

/// Iterates the members with ranks in `start..end`, from either end.
#[derive(Clone)]
pub struct RankIter<'a> {
    tree: &'a Tree,
    /// At rank `start` once forward iteration began.
    front: Option<Cursor<'a>>,
    /// At rank `end - 1` once backward iteration began.
    back: Option<Cursor<'a>>,
    start: usize,
    end: usize,
}

impl<'a> Iterator for RankIter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.start >= self.end {
            return None;
        }
        let (tree, start) = (self.tree, self.start);
        let cursor = self.front.get_or_insert_with(|| Cursor::seek(tree, start));
        let entry = cursor.entry()?;
        cursor.advance();
        self.start += 1;
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.start);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for RankIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.start >= self.end {
            return None;
        }
        let (tree, last) = (self.tree, self.end - 1);
        let cursor = self.back.get_or_insert_with(|| Cursor::seek(tree, last));
        let entry = cursor.entry()?;
        cursor.retreat();
        self.end -= 1;
        Some(entry)
    }
}

impl ExactSizeIterator for RankIter<'_> {}

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

    /// Checks the B+ tree's invariants; returns the number of internal levels.
    fn check_tree(tree: &Tree) -> usize {
        fn walk(node: &Node, is_root: bool, entries: &mut Vec<(f64, Bytes)>) -> usize {
            match node {
                Node::Leaf(leaf) => {
                    assert_eq!(leaf.scores.len(), leaf.members.len());
                    assert!(leaf.scores.len() <= LEAF_CAPACITY);
                    assert!(is_root || leaf.scores.len() >= LEAF_MIN);
                    for (s, m) in leaf.scores.iter().zip(&leaf.members) {
                        entries.push((*s, m.clone()));
                    }
                    0
                }
                Node::Inner(inner) => {
                    let n = inner.children.len();
                    assert!(n <= INNER_CAPACITY);
                    assert!(n >= if is_root { 2 } else { INNER_MIN });
                    assert_eq!(inner.sizes.len(), n);
                    assert_eq!(inner.key_scores.len(), n - 1);
                    assert_eq!(inner.key_members.len(), n - 1);
                    let mut depth = None;
                    for (i, child) in inner.children.iter().enumerate() {
                        assert_eq!(inner.sizes[i], child.size());
                        if i > 0 {
                            let (s, m) = child.first_key().expect("non-empty child");
                            assert_eq!(s.to_bits(), inner.key_scores[i - 1].to_bits());
                            assert_eq!(m, &inner.key_members[i - 1]);
                        }
                        let d = walk(child, false, entries);
                        assert!(depth.is_none_or(|x| x == d), "leaves at one depth");
                        depth = Some(d);
                    }
                    depth.unwrap_or(0) + 1
                }
            }
        }
        let mut entries = Vec::new();
        let depth = walk(&tree.root, true, &mut entries);
        assert_eq!(entries.len(), tree.len);
        for pair in entries.windows(2) {
            assert_eq!(
                compare(pair[0].0, &pair[0].1, pair[1].0, &pair[1].1),
                Ordering::Less
            );
        }
        depth
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

    #[test]
    fn compact_sets_store_negative_zero_as_zero() {
        let mut z = ZSet::default();
        z.insert(Bytes::from_static(b"a"), -0.0);
        assert!(z.score(b"a").is_some_and(|s| s.is_sign_positive()));
        let mut big = ZSet::with_encoding(false);
        big.insert_with_limits(Bytes::from_static(b"a"), -0.0, CompactLimits::default());
        assert!(big.score(b"a").is_some_and(|s| s.is_sign_negative()));
        // -0 and 0 are one score: ties are broken by member.
        big.insert_with_limits(Bytes::from_static(b"0"), 0.0, CompactLimits::default());
        assert_eq!(names(big.iter()), ["0", "a"]);
        big.fit_compact(CompactLimits::default());
        assert!(big.is_compact());
        assert!(big.score(b"a").is_some_and(|s| s.is_sign_positive()));
    }

    #[test]
    fn grows_out_of_compact_encoding() {
        let limits = CompactLimits {
            max_entries: 2,
            max_value_bytes: 3,
        };
        let mut z = ZSet::default();
        z.insert_with_limits(Bytes::from_static(b"a"), 1.0, limits);
        z.insert_with_limits(Bytes::from_static(b"b"), 1.0, limits);
        assert!(z.is_compact());
        z.insert_with_limits(Bytes::from_static(b"b"), 2.0, limits);
        assert!(z.is_compact());
        z.insert_with_limits(Bytes::from_static(b"c"), 1.0, limits);
        assert!(!z.is_compact());
        let mut long = ZSet::default();
        long.insert_with_limits(Bytes::from_static(b"abcd"), 1.0, limits);
        assert!(!long.is_compact());
    }

    #[test]
    fn ranks_and_iteration_agree_with_a_sorted_vector() {
        let mut z = ZSet::default();
        let mut reference: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut x: u64 = 12345;
        for i in 0..3000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let member = format!("m{}", x % 700).into_bytes();
            let score = (x % 37) as f64;
            if i % 5 == 4 {
                z.remove(&member);
                reference.retain(|(_, m)| *m != member);
            } else {
                z.insert(Bytes::from(member.clone()), score);
                reference.retain(|(_, m)| *m != member);
                reference.push((score, member));
            }
        }
        reference.sort_by(|a, b| compare(a.0, &a.1, b.0, &b.1));
        assert_eq!(z.len(), reference.len());
        let all: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let expected: Vec<(Vec<u8>, f64)> =
            reference.iter().map(|(s, m)| (m.clone(), *s)).collect();
        assert_eq!(all, expected);
        for (rank, (_, member)) in reference.iter().enumerate() {
            assert_eq!(z.rank(member), Some(rank));
            assert_eq!(
                z.by_rank(rank).map(|(m, _)| m.to_vec()),
                Some(member.clone())
            );
        }
        let len = reference.len();
        for (start, end) in [(0, 0), (3, 10), (len - 5, len), (7, 8), (0, len)] {
            let forward: Vec<_> = z.iter_ranks(start, end).map(|(m, _)| m.clone()).collect();
            let mut backward: Vec<_> = z
                .iter_ranks(start, end)
                .rev()
                .map(|(m, _)| m.clone())
                .collect();
            backward.reverse();
            assert_eq!(forward, backward);
            assert_eq!(forward.len(), end - start);
            // Mixed directions meet in the middle without overlap.
            let mut it = z.iter_ranks(start, end);
            let mut seen = 0;
            while it.next().is_some() {
                seen += 1;
                if it.next_back().is_some() {
                    seen += 1;
                }
            }
            assert_eq!(seen, end - start);
        }
        let range = ScoreRange {
            min: 5.0,
            min_exclusive: true,
            max: 9.0,
            max_exclusive: false,
        };
        let (start, end) = z.score_range_ranks(&range);
        let expected = reference
            .iter()
            .filter(|(s, _)| *s > 5.0 && *s <= 9.0)
            .count();
        assert_eq!(end - start, expected);
        assert_eq!(z.remove_ranks(start, end), expected);
        assert_eq!(z.len(), reference.len() - expected);
    }

    #[test]
    fn arena_shrinks_after_mass_removal() {
        let mut z = ZSet::default();
        for i in 0..1000 {
            z.insert(Bytes::from(format!("m{i:04}")), f64::from(i % 10));
        }
        for i in 0..990 {
            z.remove(format!("m{i:04}").as_bytes());
        }
        // Ten entries cannot fill two leaves to their minimum: the tree is one leaf again.
        assert!(matches!(z.tree.root, Node::Leaf(_)));
        assert_eq!(check_tree(&z.tree), 0);
        assert_eq!(z.len(), 10);
        let names: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(names.len(), 10);
        assert_eq!(z.rank(b"m0999"), Some(9));
        assert_eq!(z.rank(b"m0990"), Some(0));
    }

    #[test]
    fn lex_ranges_follow_redis_on_mixed_scores() {
        // Scores order the members b, a, c: a lexicographic range is not monotone here.
        let z = zset(&[("b", 1.0), ("a", 2.0), ("c", 3.0)]);
        let incl = |s: &'static [u8]| LexBound::Inclusive(Bytes::from_static(s));
        let first = z.lex_first_in_range(&incl(b"a"), &incl(b"b"));
        assert_eq!(first, Some(0));
        assert_eq!(z.lex_run_up(0, &incl(b"b")), 2);
        assert_eq!(z.lex_last_in_range(&incl(b"a"), &incl(b"b")), Some(1));
        assert_eq!(z.lex_run_down(1, &incl(b"a")), 0);
        // The last member is below min: nothing, even though "b" would qualify.
        let z = zset(&[("b", 1.0), ("a", 2.0)]);
        assert_eq!(z.lex_first_in_range(&incl(b"b"), &LexBound::Max), None);
        assert_eq!(z.lex_first_in_range(&LexBound::Min, &LexBound::Min), None);
        assert_eq!(
            z.lex_first_in_range(&incl(b"a"), &LexBound::Exclusive(Bytes::from_static(b"a"))),
            None
        );
    }

    #[test]
    fn lex_ranges() {
        let z = zset(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]);
        let incl = |s: &'static [u8]| LexBound::Inclusive(Bytes::from_static(s));
        let excl = |s: &'static [u8]| LexBound::Exclusive(Bytes::from_static(s));
        assert_eq!(z.lex_range_ranks(&LexBound::Min, &LexBound::Max), (0, 4));
        assert_eq!(z.lex_range_ranks(&incl(b"b"), &excl(b"d")), (1, 3));
        assert_eq!(z.lex_range_ranks(&excl(b"b"), &incl(b"b")), (2, 2));
        assert_eq!(z.lex_range_ranks(&LexBound::Max, &LexBound::Max), (4, 4));
        assert_eq!(z.lex_range_ranks(&LexBound::Min, &LexBound::Min), (0, 0));
        assert_eq!(
            names(z.range_by_lex(Bound::Excluded(b"a"), Bound::Unbounded)),
            ["b", "c", "d"]
        );
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            crate::util::num::usize_from(self.next() % n as u64)
        }
    }

    type Model = std::collections::BTreeSet<(Score, Bytes)>;

    fn model_entries(model: &Model) -> Vec<(Bytes, f64)> {
        model.iter().map(|(s, m)| (m.clone(), s.0)).collect()
    }

    fn collect(it: RankIter<'_>) -> Vec<(Bytes, f64)> {
        it.map(|(m, s)| (m.clone(), s)).collect()
    }

    /// Compares every query the commands use with the model (`lex`: all scores are equal,
    /// so lexicographic ranges are meaningful).
    fn check_against_model(z: &ZSet, model: &Model, rng: &mut Rng, touched: &[u8], full: bool) {
        assert_eq!(z.len(), model.len());
        assert_eq!(z.tree.len, model.len());
        let entries: Vec<(Bytes, f64)> = if full {
            model_entries(model)
        } else {
            Vec::new()
        };
        if let Some(score) = z.score(touched) {
            let key = (Score(score), Bytes::copy_from_slice(touched));
            assert_eq!(z.rank(touched), Some(model.range(..key).count()));
        }
        let len = model.len();
        if len == 0 {
            assert!(z.by_rank(0).is_none());
            assert_eq!(z.iter().count(), 0);
            return;
        }
        for rank in [0, len - 1, rng.below(len), rng.below(len)] {
            let expected = model.iter().nth(rank).map(|(s, m)| (m.clone(), s.0));
            assert_eq!(z.by_rank(rank).map(|(m, s)| (m.clone(), s)), expected);
        }
        assert!(z.by_rank(len).is_none());
        let a = rng.below(len + 1);
        let b = rng.below(len + 1);
        let (start, end) = (a.min(b), a.max(b));
        let expected: Vec<(Bytes, f64)> = model
            .iter()
            .skip(start)
            .take(end - start)
            .map(|(s, m)| (m.clone(), s.0))
            .collect();
        assert_eq!(collect(z.iter_ranks(start, end)), expected);
        let mut backward = collect_rev(z.iter_ranks(start, end));
        backward.reverse();
        assert_eq!(backward, expected);
        // Scores are integers from -25 to 25 here: half-integral bounds make both
        // exclusive and inclusive ends meaningful.
        let low = rng.below(60) as f64 / 2.0 - 30.0;
        let high = low + rng.below(30) as f64 / 2.0;
        let (min_exclusive, max_exclusive) = (rng.below(2) == 0, rng.below(2) == 0);
        let range = ScoreRange {
            min: low,
            min_exclusive,
            max: high,
            max_exclusive,
        };
        let in_range: Vec<(Bytes, f64)> = model
            .iter()
            .filter(|(s, _)| range.admits_from_below(s.0) && range.admits_from_above(s.0))
            .map(|(s, m)| (m.clone(), s.0))
            .collect();
        let (start, end) = z.score_range_ranks(&range);
        assert_eq!(end - start, in_range.len());
        let min = if min_exclusive {
            Bound::Excluded(low)
        } else {
            Bound::Included(low)
        };
        let max = if max_exclusive {
            Bound::Excluded(high)
        } else {
            Bound::Included(high)
        };
        assert_eq!(collect(z.range_by_score(min, max)), in_range);
        let mut reversed = collect_rev(z.range_by_score(min, max));
        reversed.reverse();
        assert_eq!(reversed, in_range);
        if full {
            assert_eq!(collect(z.iter()), entries);
            let mut reversed = collect_rev(z.iter());
            reversed.reverse();
            assert_eq!(reversed, entries);
            check_tree(&z.tree);
        }
    }

    fn collect_rev(it: RankIter<'_>) -> Vec<(Bytes, f64)> {
        it.rev().map(|(m, s)| (m.clone(), s)).collect()
    }

    fn model_remove(model: &mut Model, member: &[u8], score: Option<f64>) {
        if let Some(s) = score {
            assert!(model.remove(&(Score(s), Bytes::copy_from_slice(member))));
        }
    }

    #[test]
    fn randomized_against_a_sorted_set_model() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut z = ZSet::with_encoding(false);
        let mut model = Model::new();
        for step in 0..12_000 {
            // Grow to a few thousand members (many leaves), then shrink, then grow again.
            let members = if (4000..8000).contains(&step) {
                300
            } else {
                4000
            };
            let member = Bytes::from(format!("m{}", rng.below(members)));
            let op = rng.below(20);
            if op < 12 || (step < 4000 && op < 16) {
                let score = if rng.below(50) == 0 {
                    f64::INFINITY
                } else {
                    rng.below(51) as f64 - 25.0
                };
                let previous = z.score(&member);
                assert_eq!(z.insert(member.clone(), score), previous);
                model_remove(&mut model, &member, previous);
                model.insert((Score(score), member.clone()));
            } else if op < 19 {
                let previous = z.score(&member);
                assert_eq!(z.remove(&member), previous);
                model_remove(&mut model, &member, previous);
            } else if !model.is_empty() {
                let start = rng.below(model.len());
                let end = start + rng.below(30);
                let doomed: Vec<(Score, Bytes)> = model
                    .iter()
                    .skip(start)
                    .take(end - start)
                    .cloned()
                    .collect();
                assert_eq!(z.remove_ranks(start, end), doomed.len());
                for key in &doomed {
                    model.remove(key);
                }
            }
            check_against_model(&z, &model, &mut rng, &member, step % 200 == 0);
            if step == 3999 {
                assert!(check_tree(&z.tree) >= 1, "grew past one leaf");
            }
        }
        check_against_model(&z, &model, &mut rng, b"", true);
        assert!(check_tree(&z.tree) >= 1, "grew past one leaf again");
        // A copy (as snapshots take) is independent of the original.
        let copy = z.clone();
        z.remove_ranks(0, z.len());
        assert_eq!(z.len(), 0);
        assert_eq!(collect(copy.iter()), model_entries(&model));
        check_tree(&z.tree);
    }

    #[test]
    fn small_sets_without_a_map_match_the_model_across_the_boundary() {
        let mut rng = Rng(0x5EED_0001);
        let mut z = ZSet::default();
        let mut model = Model::new();
        for step in 0..6_000 {
            // Members drawn from 80 names: the set keeps crossing the map-less limit.
            let member = Bytes::from(format!("m{}", rng.below(80)));
            let previous = z.score(&member);
            if rng.below(3) == 0 {
                assert_eq!(z.remove(&member), previous);
                model_remove(&mut model, &member, previous);
            } else {
                let score = rng.below(11) as f64 - 5.0;
                assert_eq!(z.insert(member.clone(), score), previous);
                model_remove(&mut model, &member, previous);
                model.insert((Score(score), member.clone()));
            }
            // The map appears past the limit and stays (a set that grew tends to grow).
            assert!(z.scores.is_some() || z.len() <= MAPLESS_MEMBERS_MAX);
            check_against_model(&z, &model, &mut rng, &member, step % 100 == 0);
        }
    }

    #[test]
    fn built_from_members_equals_inserted() {
        for n in [
            0usize,
            1,
            2,
            20,
            MAPLESS_MEMBERS_MAX,
            MAPLESS_MEMBERS_MAX + 1,
            300,
        ] {
            let entries: Vec<(Bytes, f64)> = (0..n)
                .rev()
                .map(|i| {
                    let score = if i % 7 == 0 { -0.0 } else { (i % 5) as f64 };
                    (Bytes::from(format!("m{i}")), score)
                })
                .collect();
            for compact in [true, false] {
                let mut inserted = ZSet::with_encoding(compact);
                for (m, s) in &entries {
                    inserted.insert_with_limits(m.clone(), *s, CompactLimits::default());
                }
                let built =
                    ZSet::from_unique_members(entries.clone(), compact, CompactLimits::default())
                        .expect("distinct members");
                let bits = |z: &ZSet| -> Vec<(Bytes, u64)> {
                    z.iter().map(|(m, s)| (m.clone(), s.to_bits())).collect()
                };
                assert_eq!(bits(&built), bits(&inserted), "n={n} compact={compact}");
                assert_eq!(built.is_compact(), inserted.is_compact());
                check_tree(&built.tree);
                for (m, _) in &entries {
                    assert_eq!(built.score(m), inserted.score(m));
                }
            }
            if n > 0 {
                let mut repeated = entries.clone();
                repeated.push((entries[n / 2].0.clone(), 99.0));
                assert!(
                    ZSet::from_unique_members(repeated, true, CompactLimits::default()).is_none()
                );
            }
        }
    }

    #[test]
    fn randomized_lex_ranges_with_equal_scores() {
        let mut rng = Rng(77);
        let mut z = ZSet::with_encoding(false);
        let mut model = std::collections::BTreeSet::<Bytes>::new();
        let word = |rng: &mut Rng| {
            let len = 1 + rng.below(3);
            Bytes::from(
                (0..len)
                    .map(|_| b'a' + u8::try_from(rng.below(6)).unwrap())
                    .collect::<Vec<u8>>(),
            )
        };
        let bound = |rng: &mut Rng| match rng.below(6) {
            0 => LexBound::Min,
            1 => LexBound::Max,
            2 | 3 => LexBound::Inclusive(word(rng)),
            _ => LexBound::Exclusive(word(rng)),
        };
        for step in 0..3000 {
            let member = word(&mut rng);
            if rng.below(3) == 0 {
                assert_eq!(z.remove(&member).is_some(), model.remove(&member));
            } else {
                z.insert(member.clone(), 1.0);
                model.insert(member);
            }
            if step % 10 != 0 {
                continue;
            }
            for _ in 0..5 {
                let (min, max) = (bound(&mut rng), bound(&mut rng));
                let members: Vec<&Bytes> = model.iter().collect();
                let start = members.iter().filter(|m| !min.admits_from_below(m)).count();
                let end = members.iter().filter(|m| max.admits_from_above(m)).count();
                assert_eq!(z.lex_range_ranks(&min, &max), (start, end.max(start)));
                let selected: Vec<&Bytes> = members
                    .iter()
                    .copied()
                    .filter(|m| min.admits_from_below(m) && max.admits_from_above(m))
                    .collect();
                let first = z.lex_first_in_range(&min, &max);
                let last = z.lex_last_in_range(&min, &max);
                if selected.is_empty() {
                    assert_eq!((first, last), (None, None));
                } else {
                    assert_eq!(first, Some(start));
                    assert_eq!(last, Some(start + selected.len() - 1));
                    assert_eq!(z.lex_run_up(start, &max), start + selected.len());
                    assert_eq!(z.lex_run_down(start + selected.len() - 1, &min), start);
                }
            }
        }
        check_tree(&z.tree);
    }

    #[test]
    fn large_sets_split_and_merge_on_several_levels() {
        let mut rng = Rng(4242);
        let mut z = ZSet::with_encoding(false);
        let count = 150_000;
        let mut order: Vec<usize> = (0..count).collect();
        for i in (1..count).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &i in &order {
            z.insert(Bytes::from(format!("m{i:06}")), (i % 1000) as f64);
        }
        assert_eq!(check_tree(&z.tree), 3);
        let expected_rank = |i: usize| (i % 1000) * (count / 1000) + i / 1000;
        for _ in 0..2000 {
            let i = rng.below(count);
            let member = format!("m{i:06}");
            assert_eq!(z.rank(member.as_bytes()), Some(expected_rank(i)));
            assert_eq!(
                z.by_rank(expected_rank(i)).map(|(m, _)| m.clone()),
                Some(Bytes::from(member))
            );
        }
        assert_eq!(z.iter().count(), count);
        assert_eq!(z.iter().rev().count(), count);
        // Removing a contiguous run empties whole subtrees; random removals then shrink
        // the rest level by level.
        assert_eq!(z.remove_ranks(20_000, 100_000), 80_000);
        check_tree(&z.tree);
        let mut remaining: Vec<Bytes> = z.iter().map(|(m, _)| m.clone()).collect();
        for i in (1..remaining.len()).rev() {
            remaining.swap(i, rng.below(i + 1));
        }
        let keep = 40;
        for (n, member) in remaining.iter().skip(keep).enumerate() {
            assert!(z.remove(member).is_some());
            if n % 7000 == 0 {
                check_tree(&z.tree);
            }
        }
        assert_eq!(z.len(), keep);
        assert_eq!(check_tree(&z.tree), 0);
        let mut kept: Vec<(Bytes, f64)> = remaining[..keep]
            .iter()
            .map(|m| (m.clone(), z.score(m).unwrap_or(f64::NAN)))
            .collect();
        kept.sort_by(|a, b| compare(a.1, &a.0, b.1, &b.0));
        assert_eq!(collect(z.iter()), kept);
    }
}
