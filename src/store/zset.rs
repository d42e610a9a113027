//! Sorted set: a member → score map plus an order-statistic index by (score, member).
//!
//! The index is a treap whose nodes carry their subtree size, kept in one arena vector: rank
//! queries, access by rank and the bounds of score or lexicographic ranges are O(log n), and
//! range iteration walks the tree with explicit stacks. The set also remembers whether Redis
//! would hold it in its compact (listpack) encoding, because a few replies depend on it: the
//! compact form stores `-0` as `0`, and ZSCAN returns the whole compact set at once with
//! scores printed as integers where they are integral.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::ops::Bound;

use bytes::Bytes;

use super::value::FastMap;

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

#[derive(Debug, Clone)]
pub struct ZSet {
    scores: FastMap<Bytes, f64>,
    tree: Tree,
    compact: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            scores: FastMap::default(),
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
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// True while Redis would keep this set as a listpack.
    pub fn is_compact(&self) -> bool {
        self.compact
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
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
        // An existing member keeps its stored bytes: the caller's may be a slice of a
        // larger buffer that must not be pinned.
        let (member, previous) = match self.scores.get_key_value(&member[..]) {
            Some((stored, &score)) => (stored.clone(), Some(score)),
            None => (member, None),
        };
        if previous.is_none()
            && self.compact
            && (self.len() + 1 > limits.max_entries || member.len() > limits.max_value_bytes)
        {
            self.compact = false;
        }
        // The listpack stores integral scores as integers, which turns -0 into 0.
        let score = if self.compact && score == 0.0 {
            0.0
        } else {
            score
        };
        if let Some(old) = previous {
            if old.to_bits() == score.to_bits() {
                return previous;
            }
            self.tree.remove(old, &member);
        }
        self.scores.insert(member.clone(), score);
        self.tree.insert(score, member);
        previous
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (key, score) = self.scores.remove_entry(member)?;
        self.tree.remove(score, &key);
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
        for member in self.scores.keys() {
            longest = longest.max(member.len());
            total += member.len();
        }
        if longest > limits.max_value_bytes || total > LISTPACK_SAFETY_BYTES {
            return;
        }
        self.compact = true;
        let negative_zeros: Vec<Bytes> = self
            .scores
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
        self.tree.select(rank).map(|n| (&n.member, n.score))
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
        self.scores.hasher().hash_one(member)
    }

    /// Member and score by member, for scans that walk the map.
    pub fn entries(&self) -> impl Iterator<Item = (&Bytes, f64)> {
        self.scores.iter().map(|(m, s)| (m, *s))
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

// ----- order-statistic treap ------------------------------------------------------------

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    score: f64,
    member: Bytes,
    left: u32,
    right: u32,
    /// Nodes in this subtree, this one included.
    size: u32,
    priority: u32,
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    rng_state: u64,
}

/// Orders (score, member) the way Redis's skiplist does: by score with -0 equal to 0, then
/// by member bytes.
fn compare(score_a: f64, member_a: &[u8], score_b: f64, member_b: &[u8]) -> Ordering {
    match score_a.partial_cmp(&score_b) {
        Some(Ordering::Equal) | None => member_a.cmp(member_b),
        Some(order) => order,
    }
}

impl Tree {
    fn new() -> Tree {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0u8);
        Tree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            rng_state: seed | 1,
        }
    }

    fn next_priority(&mut self) -> u32 {
        // xorshift64*: priorities only need to be independent of the keys.
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn node(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    fn node_mut(&mut self, i: u32) -> &mut Node {
        &mut self.nodes[i as usize]
    }

    fn size(&self, i: u32) -> usize {
        if i == NIL {
            0
        } else {
            self.node(i).size as usize
        }
    }

    fn update(&mut self, i: u32) {
        let n = self.node(i);
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.node_mut(i).size = size as u32;
    }

    fn alloc(&mut self, score: f64, member: Bytes) -> u32 {
        let node = Node {
            score,
            member,
            left: NIL,
            right: NIL,
            size: 1,
            priority: self.next_priority(),
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn insert(&mut self, score: f64, member: Bytes) {
        let n = self.alloc(score, member);
        self.root = self.insert_at(self.root, n);
    }

    fn insert_at(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.node(n).priority > self.node(t).priority {
            let (score, member) = (self.node(n).score, self.node(n).member.clone());
            let (left, right) = self.split(t, score, &member);
            let node = self.node_mut(n);
            node.left = left;
            node.right = right;
            self.update(n);
            return n;
        }
        let goes_left = {
            let (a, b) = (self.node(n), self.node(t));
            compare(a.score, &a.member, b.score, &b.member) == Ordering::Less
        };
        if goes_left {
            let child = self.insert_at(self.node(t).left, n);
            self.node_mut(t).left = child;
        } else {
            let child = self.insert_at(self.node(t).right, n);
            self.node_mut(t).right = child;
        }
        self.update(t);
        t
    }

    /// Splits `t` into the nodes before (score, member) and those at or after it.
    fn split(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let before = {
            let n = self.node(t);
            compare(n.score, &n.member, score, member) == Ordering::Less
        };
        if before {
            let (left, right) = self.split(self.node(t).right, score, member);
            self.node_mut(t).right = left;
            self.update(t);
            (t, right)
        } else {
            let (left, right) = self.split(self.node(t).left, score, member);
            self.node_mut(t).left = right;
            self.update(t);
            (left, t)
        }
    }

    /// Joins two trees where every node of `a` orders before every node of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.node(a).priority > self.node(b).priority {
            let right = self.merge(self.node(a).right, b);
            self.node_mut(a).right = right;
            self.update(a);
            a
        } else {
            let left = self.merge(a, self.node(b).left);
            self.node_mut(b).left = left;
            self.update(b);
            b
        }
    }

    fn remove(&mut self, score: f64, member: &[u8]) {
        self.root = self.remove_at(self.root, score, member);
        // A set that shrank a lot gives its arena back: rebuilding costs O(n log n), paid
        // for by the n/2 removals that preceded it.
        if self.free.len() > 64 && self.free.len() > self.nodes.len() / 2 {
            self.compact_arena();
        }
    }

    fn compact_arena(&mut self) {
        let mut rebuilt = Tree {
            nodes: Vec::with_capacity(self.nodes.len() - self.free.len()),
            free: Vec::new(),
            root: NIL,
            rng_state: self.rng_state,
        };
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.node(t).left;
            }
            let Some(i) = stack.pop() else {
                break;
            };
            let n = self.node(i);
            rebuilt.insert(n.score, n.member.clone());
            t = n.right;
        }
        *self = rebuilt;
    }

    fn remove_at(&mut self, t: u32, score: f64, member: &[u8]) -> u32 {
        if t == NIL {
            return NIL;
        }
        let order = {
            let n = self.node(t);
            compare(score, member, n.score, &n.member)
        };
        match order {
            Ordering::Equal => {
                let (left, right) = (self.node(t).left, self.node(t).right);
                let joined = self.merge(left, right);
                self.node_mut(t).member = Bytes::new();
                self.free.push(t);
                joined
            }
            Ordering::Less => {
                let child = self.remove_at(self.node(t).left, score, member);
                self.node_mut(t).left = child;
                self.update(t);
                t
            }
            Ordering::Greater => {
                let child = self.remove_at(self.node(t).right, score, member);
                self.node_mut(t).right = child;
                self.update(t);
                t
            }
        }
    }

    fn rank(&self, score: f64, member: &[u8]) -> usize {
        let mut rank = 0;
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            match compare(score, member, n.score, &n.member) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return rank + self.size(n.left),
                Ordering::Greater => {
                    rank += self.size(n.left) + 1;
                    t = n.right;
                }
            }
        }
        rank
    }

    fn select(&self, mut rank: usize) -> Option<&Node> {
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            let left = self.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some(n),
                Ordering::Greater => {
                    rank -= left + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// How many nodes satisfy `before`, a predicate true for a prefix of the order.
    fn count_prefix(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            if before(n.score, &n.member) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    fn iter_ranks(&self, start: usize, end: usize) -> RankIter<'_> {
        RankIter {
            tree: self,
            front: Vec::new(),
            back: Vec::new(),
            front_ready: false,
            back_ready: false,
            start,
            end,
        }
    }
}

/// Iterates the members with ranks in `start..end`, from either end.
#[derive(Clone)]
pub struct RankIter<'a> {
    tree: &'a Tree,
    /// Pending successors for forward iteration (top = next).
    front: Vec<u32>,
    /// Pending predecessors for backward iteration (top = next).
    back: Vec<u32>,
    front_ready: bool,
    back_ready: bool,
    start: usize,
    end: usize,
}

impl<'a> RankIter<'a> {
    fn seek_front(&mut self) {
        let tree = self.tree;
        let mut rank = self.start;
        let mut t = tree.root;
        while t != NIL {
            let n = tree.node(t);
            let left = tree.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => {
                    self.front.push(t);
                    t = n.left;
                }
                Ordering::Equal => {
                    self.front.push(t);
                    break;
                }
                Ordering::Greater => {
                    rank -= left + 1;
                    t = n.right;
                }
            }
        }
        self.front_ready = true;
    }

    fn seek_back(&mut self) {
        let tree = self.tree;
        let mut rank = self.end - 1;
        let mut t = tree.root;
        while t != NIL {
            let n = tree.node(t);
            let left = tree.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => t = n.left,
                Ordering::Equal => {
                    self.back.push(t);
                    break;
                }
                Ordering::Greater => {
                    self.back.push(t);
                    rank -= left + 1;
                    t = n.right;
                }
            }
        }
        self.back_ready = true;
    }
}

impl<'a> Iterator for RankIter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.start >= self.end {
            return None;
        }
        if !self.front_ready {
            self.seek_front();
        }
        let tree = self.tree;
        let i = self.front.pop()?;
        let n = tree.node(i);
        let mut t = n.right;
        while t != NIL {
            self.front.push(t);
            t = tree.node(t).left;
        }
        self.start += 1;
        Some((&n.member, n.score))
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
        if !self.back_ready {
            self.seek_back();
        }
        let tree = self.tree;
        let i = self.back.pop()?;
        let n = tree.node(i);
        let mut t = n.left;
        while t != NIL {
            self.back.push(t);
            t = tree.node(t).right;
        }
        self.end -= 1;
        Some((&n.member, n.score))
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
        assert!(z.tree.nodes.len() < 200);
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
}
