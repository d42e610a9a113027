//! Hash values: small hashes packed into one buffer, large ones in a table.
//!
//! A table costs a `Bytes` header and an allocation per field and per value plus its buckets,
//! which for the typical small object (a few dozen short fields) is about seven times what
//! the data takes, and building one is most of what loading such a dataset costs. Small
//! hashes therefore live packed, as Redis keeps them in a listpack: fields and values
//! alternate in one byte buffer, each behind a varint length, and lookups scan it. Past the
//! limits below a hash becomes a table for good, as in Redis (a hash that grew once tends to
//! grow again).

use bytes::Bytes;

use super::fast::FastMap;
use super::field_expiry::FieldTimes;

/// Most pairs a packed hash holds (Redis's `hash-max-listpack-entries` default).
pub const PACKED_PAIRS_MAX: usize = 128;
/// Longest field or value a packed hash holds (Redis's `hash-max-listpack-value` default).
/// With the pair limit this bounds a packed hash to about 16 KiB, so the linear scans and
/// the moves of an update stay short.
pub const PACKED_ELEMENT_BYTES_MAX: usize = 64;

#[derive(Debug, Clone)]
pub struct Hash {
    repr: Repr,
    /// Expiry times of fields that have one; `None` while no field has (the common case).
    /// Every field here is a field of `repr`.
    times: Option<Box<FieldTimes>>,
}

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    Table(FastMap<Bytes, Bytes>),
}

/// `len field len value ...`, lengths as LEB128 varints.
#[derive(Debug, Clone, Default)]
struct Packed {
    bytes: Vec<u8>,
    pairs: usize,
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            repr: Repr::Packed(Packed::default()),
            times: None,
        }
    }
}

fn fits_packed(field: &[u8], value: &[u8]) -> bool {
    field.len() <= PACKED_ELEMENT_BYTES_MAX && value.len() <= PACKED_ELEMENT_BYTES_MAX
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "each byte keeps the low 7 bits on purpose"
)]
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads one length-prefixed element at `at`; returns it and the position after it. The
/// buffer is only ever written by [`put_varint`] and `put_element`, so it is well formed.
fn element(bytes: &[u8], mut at: usize) -> (&[u8], usize) {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = bytes[at];
        at += 1;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&bytes[at..at + len], at + len)
}

fn put_element(out: &mut Vec<u8>, element: &[u8]) {
    put_varint(out, element.len());
    out.extend_from_slice(element);
}

impl Packed {
    /// The pair whose field is `field`: where it starts, where its value starts and where
    /// the pair ends.
    fn find(&self, field: &[u8]) -> Option<(usize, usize, usize)> {
        let mut at = 0;
        while at < self.bytes.len() {
            let (f, value_at) = element(&self.bytes, at);
            let (_, end) = element(&self.bytes, value_at);
            if f == field {
                return Some((at, value_at, end));
            }
            at = end;
        }
        None
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            bytes: &self.bytes,
            at: 0,
        }
    }
}

#[derive(Clone)]
struct PackedIter<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let (field, value_at) = element(self.bytes, self.at);
        let (value, end) = element(self.bytes, value_at);
        self.at = end;
        Some((field, value))
    }
}

/// Fields and values of a hash, in the packed form's insertion order or the table's order.
#[derive(Clone)]
pub struct Iter<'a> {
    inner: IterRepr<'a>,
    remaining: usize,
}

#[derive(Clone)]
enum IterRepr<'a> {
    Packed(PackedIter<'a>),
    Table(hashbrown::hash_map::Iter<'a, Bytes, Bytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.inner {
            IterRepr::Packed(it) => it.next(),
            IterRepr::Table(it) => it.next().map(|(f, v)| (&f[..], &v[..])),
        };
        if item.is_some() {
            self.remaining -= 1;
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Hash {
    /// Builds a hash from pairs read from a dump; `None` if a field repeats. Cheaper than
    /// inserting one by one, which would search the packed form for every field.
    pub fn from_unique_pairs<F: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(F, V)]) -> Option<Hash> {
        let packable = pairs.len() <= PACKED_PAIRS_MAX
            && pairs
                .iter()
                .all(|(f, v)| fits_packed(f.as_ref(), v.as_ref()));
        if !packable {
            let mut hash = Hash {
                repr: Repr::Table(FastMap::with_capacity_and_hasher(
                    pairs.len(),
                    Default::default(),
                )),
                times: None,
            };
            for (f, v) in pairs {
                if !hash.insert(f.as_ref(), v.as_ref()) {
                    return None;
                }
            }
            return Some(hash);
        }
        if !all_distinct(pairs.iter().map(|(f, _)| f.as_ref())) {
            return None;
        }
        let total: usize = pairs
            .iter()
            .map(|(f, v)| f.as_ref().len() + v.as_ref().len() + 2)
            .sum();
        let mut bytes = Vec::with_capacity(total);
        for (f, v) in pairs {
            put_element(&mut bytes, f.as_ref());
            put_element(&mut bytes, v.as_ref());
        }
        Some(Hash {
            repr: Repr::Packed(Packed {
                bytes,
                pairs: pairs.len(),
            }),
            times: None,
        })
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.pairs,
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the hash is in its packed form.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p
                .find(field)
                .map(|(_, value_at, _)| element(&p.bytes, value_at).0),
            Repr::Table(t) => t.get(field).map(|v| &v[..]),
        }
    }

    /// The value of `field` as `Bytes` for a reply.
    pub fn get_bytes(&self, field: &[u8]) -> Option<Bytes> {
        match &self.repr {
            Repr::Packed(_) => self.get(field).map(Bytes::copy_from_slice),
            Repr::Table(t) => t.get(field).cloned(),
        }
    }

    pub fn contains_key(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`, dropping any expiry time the field had (as HSET does);
    /// returns true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.forget_time(field);
        self.insert_keep_expiry(field, value)
    }

    /// Sets `field` to `value` and leaves its expiry time alone (HINCRBY, HSETEX KEEPTTL);
    /// returns true if the field is new.
    pub fn insert_keep_expiry(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Repr::Packed(p) = &mut self.repr {
            if let Some((_, value_at, end)) = p.find(field) {
                if fits_packed(field, value) {
                    let mut encoded = Vec::with_capacity(value.len() + 2);
                    put_element(&mut encoded, value);
                    p.bytes.splice(value_at..end, encoded);
                    return false;
                }
            } else if p.pairs < PACKED_PAIRS_MAX && fits_packed(field, value) {
                // Exact growth, as a listpack grows: doubling would leave up to half of
                // every small hash empty, and the copy is of at most ~16 KiB.
                p.bytes.reserve_exact(field.len() + value.len() + 2);
                put_element(&mut p.bytes, field);
                put_element(&mut p.bytes, value);
                p.pairs += 1;
                return true;
            }
            self.convert_to_table();
        }
        let Repr::Table(t) = &mut self.repr else {
            unreachable!("converted to a table above");
        };
        match t.get_mut(field) {
            Some(slot) => {
                *slot = Bytes::copy_from_slice(value);
                false
            }
            None => {
                t.insert(Bytes::copy_from_slice(field), Bytes::copy_from_slice(value));
                true
            }
        }
    }

    /// Removes `field` and its expiry time; returns true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.forget_time(field);
        match &mut self.repr {
            Repr::Packed(p) => match p.find(field) {
                Some((at, _, end)) => {
                    p.bytes.drain(at..end);
                    p.pairs -= 1;
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        let inner = match &self.repr {
            Repr::Packed(p) => IterRepr::Packed(p.iter()),
            Repr::Table(t) => IterRepr::Table(t.iter()),
        };
        Iter {
            inner,
            remaining: self.len(),
        }
    }

    /// Pairs as `Bytes` for a reply: copies out of the packed form, shares the table's.
    pub fn iter_bytes(&self) -> Box<dyn Iterator<Item = (Bytes, Bytes)> + '_> {
        match &self.repr {
            Repr::Packed(p) => Box::new(
                p.iter()
                    .map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))),
            ),
            Repr::Table(t) => Box::new(t.iter().map(|(f, v)| (f.clone(), v.clone()))),
        }
    }

    /// A hash of `field` that stays the same for the life of the hash and its copies, for
    /// scans that walk a table in hash order.
    pub fn field_hash(&self, field: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        match &self.repr {
            Repr::Packed(_) => foldhash::fast::FixedState::default().hash_one(field),
            Repr::Table(t) => t.hasher().hash_one(field),
        }
    }

    /// Heap bytes held, approximately.
    pub fn approx_bytes(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.bytes.capacity(),
            Repr::Table(t) => t.iter().map(|(k, v)| k.len() + v.len() + 64).sum(),
        }
    }

    /// Gives back spare capacity (after a load, where the final size is known).
    pub fn shrink_to_fit(&mut self) {
        match &mut self.repr {
            Repr::Packed(p) => p.bytes.shrink_to_fit(),
            Repr::Table(t) => t.shrink_to_fit(),
        }
    }

    // ----- field expiry ---------------------------------------------------------------------

    /// True if some field has an expiry time.
    pub fn has_field_expiry(&self) -> bool {
        self.times.is_some()
    }

    /// The earliest expiry time of any field.
    pub fn next_field_expiry(&self) -> Option<u64> {
        self.times.as_ref().and_then(|t| t.earliest())
    }

    /// `field`'s expiry time, Unix ms.
    pub fn field_expiry(&self, field: &[u8]) -> Option<u64> {
        self.times.as_ref().and_then(|t| t.get(field))
    }

    /// Gives `field` an expiry time; false (and nothing changes) if there is no such field.
    pub fn set_field_expiry(&mut self, field: &[u8], at_ms: u64) -> bool {
        if !self.contains_key(field) {
            return false;
        }
        self.times
            .get_or_insert_with(Default::default)
            .set(field, at_ms);
        true
    }

    /// Removes `field`'s expiry time; true if it had one.
    pub fn persist_field(&mut self, field: &[u8]) -> bool {
        self.forget_time(field)
    }

    /// Up to `limit` fields whose expiry time is at or before `now_ms`.
    pub fn due_fields(&self, now_ms: u64, limit: usize) -> Vec<Bytes> {
        self.times
            .as_ref()
            .map_or_else(Vec::new, |t| t.due(now_ms, limit))
    }

    /// Fields with their expiry times, in no particular order.
    pub fn field_expiries(&self) -> impl Iterator<Item = (&Bytes, u64)> {
        self.times.iter().flat_map(|t| t.iter())
    }

    fn forget_time(&mut self, field: &[u8]) -> bool {
        let Some(times) = &mut self.times else {
            return false;
        };
        let removed = times.remove(field);
        if times.is_empty() {
            self.times = None;
        }
        removed
    }

    fn convert_to_table(&mut self) {
        let Repr::Packed(p) = &self.repr else {
            return;
        };
        let mut table = FastMap::with_capacity_and_hasher(p.pairs + 1, Default::default());
        for (f, v) in p.iter() {
            table.insert(Bytes::copy_from_slice(f), Bytes::copy_from_slice(v));
        }
        self.repr = Repr::Table(table);
    }
}

/// True if no two of `items` are equal: their hashes are sorted and only equal hashes are
/// compared byte for byte (a few dozen items, where a sort of 8-byte words beats both a
/// table and pairwise comparison).
pub fn all_distinct<'a>(items: impl Iterator<Item = &'a [u8]> + Clone) -> bool {
    use std::hash::BuildHasher;
    let state = foldhash::fast::FixedState::default();
    let mut hashes: Vec<(u64, usize)> = items
        .clone()
        .enumerate()
        .map(|(i, item)| (state.hash_one(item), i))
        .collect();
    hashes.sort_unstable();
    let collided = hashes.windows(2).any(|w| w[0].0 == w[1].0);
    if !collided {
        return true;
    }
    let all: Vec<&[u8]> = items.collect();
    hashes
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .all(|w| all[w[0].1] != all[w[1].1])
}

impl<F: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(F, V)> for Hash {
    fn from_iter<I: IntoIterator<Item = (F, V)>>(iter: I) -> Self {
        let mut hash = Hash::default();
        for (f, v) in iter {
            hash.insert(f.as_ref(), v.as_ref());
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn field(i: usize) -> Vec<u8> {
        format!("field:{i}").into_bytes()
    }

    /// Drives a hash and a model through the same operations and compares them after each.
    fn check(hash: &Hash, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(hash.len(), model.len());
        assert_eq!(hash.iter().len(), model.len());
        let seen: BTreeMap<Vec<u8>, Vec<u8>> =
            hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(&seen, model);
        for (f, v) in model {
            assert_eq!(hash.get(f), Some(&v[..]));
        }
    }

    #[test]
    fn packed_insert_update_remove_match_a_model() {
        let mut hash = Hash::default();
        let mut model = BTreeMap::new();
        for i in 0..100 {
            let value = vec![b'v'; i % 40];
            assert!(hash.insert(&field(i), &value));
            model.insert(field(i), value);
        }
        check(&hash, &model);
        assert!(hash.is_packed());
        // Updates that grow and shrink a value in the middle of the buffer.
        for i in (0..100).step_by(3) {
            let value = vec![b'w'; 63 - i % 60];
            assert!(!hash.insert(&field(i), &value));
            model.insert(field(i), value);
        }
        check(&hash, &model);
        for i in (0..100).step_by(2) {
            assert!(hash.remove(&field(i)));
            assert!(!hash.remove(&field(i)));
            model.remove(&field(i));
        }
        check(&hash, &model);
        assert!(hash.is_packed());
        assert_eq!(hash.get(b"absent"), None);
    }

    #[test]
    fn too_many_pairs_convert_to_a_table_for_good() {
        let mut hash = Hash::default();
        let mut model = BTreeMap::new();
        for i in 0..PACKED_PAIRS_MAX {
            hash.insert(&field(i), b"v");
            model.insert(field(i), b"v".to_vec());
        }
        assert!(hash.is_packed());
        hash.insert(&field(PACKED_PAIRS_MAX), b"v");
        model.insert(field(PACKED_PAIRS_MAX), b"v".to_vec());
        assert!(!hash.is_packed());
        check(&hash, &model);
        for i in 0..100 {
            hash.remove(&field(i));
            model.remove(&field(i));
        }
        assert!(!hash.is_packed());
        check(&hash, &model);
    }

    #[test]
    fn long_elements_convert_to_a_table() {
        let long = vec![b'x'; PACKED_ELEMENT_BYTES_MAX + 1];
        let mut by_value: Hash = [(b"a", b"1")].into_iter().collect();
        assert!(!by_value.insert(b"a", &long));
        assert!(!by_value.is_packed());
        assert_eq!(by_value.get(b"a"), Some(&long[..]));

        let mut by_field = Hash::default();
        assert!(by_field.insert(&long, b"1"));
        assert!(!by_field.is_packed());
        assert_eq!(by_field.get(&long), Some(&b"1"[..]));
    }

    #[test]
    fn built_from_pairs_equals_inserted_and_refuses_repeats() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..50).map(|i| (field(i), field(i * 7))).collect();
        let built = Hash::from_unique_pairs(&pairs).expect("distinct fields");
        assert!(built.is_packed());
        let model: BTreeMap<Vec<u8>, Vec<u8>> = pairs.iter().cloned().collect();
        check(&built, &model);

        let mut repeated = pairs.clone();
        repeated.push((field(3), b"again".to_vec()));
        assert!(Hash::from_unique_pairs(&repeated).is_none());

        let many: Vec<(Vec<u8>, Vec<u8>)> = (0..300).map(|i| (field(i), field(i))).collect();
        let table = Hash::from_unique_pairs(&many).expect("distinct fields");
        assert!(!table.is_packed());
        check(&table, &many.iter().cloned().collect());
        let mut many_repeated = many.clone();
        many_repeated.push((field(299), b"x".to_vec()));
        assert!(Hash::from_unique_pairs(&many_repeated).is_none());
    }

    #[test]
    fn distinctness_survives_hash_collisions() {
        // Equal hashes without equal bytes cannot be forced here, but equal items can:
        // they collide, and they must be told apart from distinct ones.
        let items: Vec<&[u8]> = vec![b"a", b"b", b"c", b"b"];
        assert!(!all_distinct(items.iter().copied()));
        let items: Vec<&[u8]> = vec![b"a", b"b", b"c", b""];
        assert!(all_distinct(items.iter().copied()));
        assert!(all_distinct(std::iter::empty()));
    }

    #[test]
    fn lengths_past_one_varint_byte_round_trip() {
        // 64-byte elements fit one varint byte; a multi-byte length only arises in a
        // table, but the codec must hold either way.
        let mut out = Vec::new();
        let big = vec![7u8; 300];
        put_element(&mut out, &big);
        put_element(&mut out, b"");
        let (first, next) = element(&out, 0);
        assert_eq!(first, &big[..]);
        let (second, end) = element(&out, next);
        assert_eq!(second, b"");
        assert_eq!(end, out.len());
    }
}
