//! Redis's HyperLogLog string format, pure: the 16-byte header (`HYLL`, the encoding, the
//! cached cardinality whose top bit marks it stale), 16384 six-bit registers either dense
//! (12288 packed bytes) or sparse (run-length opcodes ZERO, XZERO and VAL), MurmurHash64A
//! over the element, and Ertl's estimator. Every edit is `hyperloglog.c`'s, opcode for
//! opcode, because HLLs are strings that replicate and DUMP byte for byte: a sketch written
//! here must be the bytes Redis writes, and the other way round.

use bytes::BytesMut;

pub const HEADER_BYTES: usize = 16;
/// 2^14 registers; the low 14 bits of an element's hash pick one.
pub const REGISTERS: usize = 1 << PRECISION;
const PRECISION: u32 = 14;
/// Hash bits left to count the run of zeros in.
const RUN_BITS: usize = 64 - PRECISION as usize;
const REGISTER_BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << REGISTER_BITS) - 1;
pub const DENSE_BYTES: usize = HEADER_BYTES + (REGISTERS * REGISTER_BITS).div_ceil(8);
const ENCODING_OFFSET: usize = 4;
const CARDINALITY_OFFSET: usize = 8;
const STALE_BIT: u8 = 0x80;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// The largest value and run a VAL opcode holds, and the longest ZERO and XZERO runs.
const VAL_VALUE_MAX: u8 = 32;
const VAL_RUN_MAX: usize = 4;
const ZERO_RUN_MAX: usize = 64;
const XZERO_RUN_MAX: usize = 16384;
const MURMUR_SEED: u64 = 0xadc8_3b19;
/// 0.5 / ln(2): the estimator's constant for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

/// A sketch whose registers cannot be read back: a sparse run past the last register or
/// short of it, or an encoding that is neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("corrupted HyperLogLog")]
pub struct Corrupt;

/// The encoding of a string that is a HyperLogLog as Redis checks it (`isHLLObjectOrReply`):
/// a full header, the magic, a known encoding, and the exact size when dense. `None`: not
/// one.
pub fn encoding_of(value: &[u8]) -> Option<Encoding> {
    if value.len() < HEADER_BYTES || &value[..4] != b"HYLL" {
        return None;
    }
    match value[ENCODING_OFFSET] {
        DENSE if value.len() == DENSE_BYTES => Some(Encoding::Dense),
        SPARSE => Some(Encoding::Sparse),
        _ => None,
    }
}

/// An empty sketch, as PFADD and PFMERGE create one: sparse, one XZERO over every register.
pub fn new_sparse() -> Vec<u8> {
    let mut value = Vec::with_capacity(HEADER_BYTES + 2);
    value.extend_from_slice(b"HYLL");
    value.push(SPARSE);
    value.resize(HEADER_BYTES, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_RUN_MAX);
        value.extend_from_slice(&xzero(run));
        left -= run;
    }
    value
}

/// The cached cardinality, unless it is marked stale.
pub fn cached_cardinality(value: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = value
        .get(CARDINALITY_OFFSET..HEADER_BYTES)?
        .try_into()
        .ok()?;
    (bytes[7] & STALE_BIT == 0).then(|| u64::from_le_bytes(bytes))
}

pub fn set_cached_cardinality(value: &mut [u8], cardinality: u64) {
    value[CARDINALITY_OFFSET..HEADER_BYTES].copy_from_slice(&cardinality.to_le_bytes());
}

pub fn mark_cardinality_stale(value: &mut [u8]) {
    value[HEADER_BYTES - 1] |= STALE_BIT;
}

/// Redis's MurmurHash64A, endian-neutral (words read little-endian).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut k = u64::from_le_bytes(word.try_into().unwrap_or_default());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u64::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the length of the run of zeros, plus the final
/// one, in the rest of its hash (`hllPatLen`): 1 to 51.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the index is masked to 14 bits and the run is at most 51"
)]
pub fn register_and_run(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, MURMUR_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The guard bit ends the count at RUN_BITS + 1.
    let rest = (hash >> PRECISION) | (1u64 << RUN_BITS);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ----- dense ---------------------------------------------------------------------------

/// Register `index` of packed six-bit registers. The last register's second byte lies past
/// the array; Redis reads the string's terminating zero there.
fn dense_get(registers: &[u8], index: usize) -> u8 {
    let byte = index * REGISTER_BITS / 8;
    let shift = (index * REGISTER_BITS) & 7;
    let low = u16::from(registers[byte]) >> shift;
    let high = u16::from(registers.get(byte + 1).copied().unwrap_or(0)) << (8 - shift);
    #[allow(clippy::cast_possible_truncation, reason = "masked to six bits")]
    let value = ((low | high) & u16::from(REGISTER_MAX)) as u8;
    value
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "each byte takes the bits of the register that fall in it"
)]
fn dense_put(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * REGISTER_BITS / 8;
    let shift = (index * REGISTER_BITS) & 7;
    let mask = u16::from(REGISTER_MAX);
    let value = u16::from(value);
    registers[byte] &= !((mask << shift) as u8);
    registers[byte] |= (value << shift) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !((mask >> (8 - shift)) as u8);
        *next |= (value >> (8 - shift)) as u8;
    }
}

/// Raises register `index` to `run` if it is lower; whether it changed (`hllDenseSet`).
fn dense_raise(registers: &mut [u8], index: usize, run: u8) -> bool {
    if run > dense_get(registers, index) {
        dense_put(registers, index, run);
        true
    } else {
        false
    }
}

// ----- sparse --------------------------------------------------------------------------

/// One sparse opcode: a run of zero registers (ZERO up to 64, XZERO up to 16384, two
/// bytes) or a run of up to 4 registers holding 1 to 32 (VAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opcode {
    Zero(usize),
    XZero(usize),
    Val { value: u8, run: usize },
}

impl Opcode {
    /// The opcode at `at`; an XZERO cut short reads a zero second byte, as Redis reads the
    /// terminating zero.
    fn at(bytes: &[u8], at: usize) -> Opcode {
        let byte = bytes[at];
        match byte & 0xc0 {
            0x00 => Opcode::Zero(usize::from(byte & 0x3f) + 1),
            0x40 => {
                let low = bytes.get(at + 1).copied().unwrap_or(0);
                Opcode::XZero(((usize::from(byte & 0x3f) << 8) | usize::from(low)) + 1)
            }
            _ => Opcode::Val {
                value: ((byte >> 2) & 0x1f) + 1,
                run: usize::from(byte & 0x3) + 1,
            },
        }
    }

    fn registers(self) -> usize {
        match self {
            Opcode::Zero(run) | Opcode::XZero(run) | Opcode::Val { run, .. } => run,
        }
    }

    fn bytes(self) -> usize {
        match self {
            Opcode::XZero(_) => 2,
            _ => 1,
        }
    }
}

#[allow(clippy::cast_possible_truncation, reason = "run is 1 to 64")]
fn zero(run: usize) -> u8 {
    debug_assert!((1..=ZERO_RUN_MAX).contains(&run));
    (run - 1) as u8
}

#[allow(clippy::cast_possible_truncation, reason = "run is 1 to 16384")]
fn xzero(run: usize) -> [u8; 2] {
    debug_assert!((1..=XZERO_RUN_MAX).contains(&run));
    let stored = run - 1;
    [(stored >> 8) as u8 | 0x40, (stored & 0xff) as u8]
}

#[allow(clippy::cast_possible_truncation, reason = "run is 1 to 4")]
fn val(value: u8, run: usize) -> u8 {
    debug_assert!((1..=VAL_VALUE_MAX).contains(&value) && (1..=VAL_RUN_MAX).contains(&run));
    ((value - 1) << 2) | (run - 1) as u8 | 0x80
}

/// Appends a run of zeros as one ZERO, or one XZERO when longer than a ZERO holds.
fn push_zeros(seq: &mut Vec<u8>, run: usize) {
    if run > ZERO_RUN_MAX {
        seq.extend_from_slice(&xzero(run));
    } else {
        seq.push(zero(run));
    }
}

/// Walks a sparse sketch's opcodes, calling `val` with the first register, the run and
/// the value of each VAL, as Redis reads one to set registers (`hllSparseToDense`,
/// `hllMerge`): a VAL reaching past the last register stops the walk, and the runs must
/// cover exactly every register.
fn for_each_val(value: &[u8], mut val: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut index = 0;
    let mut at = HEADER_BYTES;
    while at < value.len() {
        let op = Opcode::at(value, at);
        if let Opcode::Val { value: v, run } = op {
            if index + run > REGISTERS {
                break;
            }
            val(index, run, v);
        }
        index += op.registers();
        at += op.bytes();
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The dense form of a sparse sketch, header (and cached cardinality) kept
/// (`hllSparseToDense`).
fn sparse_to_dense(value: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut dense = vec![0u8; DENSE_BYTES];
    dense[..HEADER_BYTES].copy_from_slice(&value[..HEADER_BYTES]);
    dense[ENCODING_OFFSET] = DENSE;
    let registers = &mut dense[HEADER_BYTES..];
    for_each_val(value, |first, run, v| {
        for i in first..first + run {
            dense_put(registers, i, v);
        }
    })?;
    Ok(dense)
}

/// Turns a sparse sketch dense in place; whether it was sparse.
pub fn make_dense(value: &mut BytesMut) -> Result<bool, Corrupt> {
    if value[ENCODING_OFFSET] == DENSE {
        return Ok(false);
    }
    let dense = sparse_to_dense(value)?;
    value.clear();
    value.extend_from_slice(&dense);
    Ok(true)
}

/// Raises register `index` of a sparse sketch to `run`, splitting and merging opcodes as
/// Redis does; turns it dense when the run is too large for a VAL or the sketch would grow
/// past `sparse_bytes_max` (`hllSparseSet`). Whether the register changed.
fn sparse_raise(
    value: &mut BytesMut,
    index: usize,
    run: u8,
    sparse_bytes_max: usize,
) -> Result<bool, Corrupt> {
    if run > VAL_VALUE_MAX {
        return promote(value, index, run);
    }
    // Step 1: the opcode covering the register, and the one before it.
    let mut first = 0;
    let mut previous = None;
    let mut at = HEADER_BYTES;
    let mut found = None;
    while at < value.len() {
        let op = Opcode::at(value, at);
        if index < first + op.registers() {
            found = Some(op);
            break;
        }
        previous = Some(at);
        at += op.bytes();
        first += op.registers();
    }
    let Some(op) = found else {
        return Err(Corrupt);
    };
    // Step 2: an update in place where the opcode allows it.
    let in_place = match op {
        Opcode::Val { value: current, .. } if current >= run => return Ok(false),
        Opcode::Val { run: 1, .. } | Opcode::Zero(1) => true,
        _ => false,
    };
    if in_place {
        value[at] = val(run, 1);
    } else {
        // Step 3: split the opcode around the register.
        let last = first + op.registers() - 1;
        let mut seq = Vec::with_capacity(5);
        match op {
            Opcode::Val { value: current, .. } => {
                if index != first {
                    seq.push(val(current, index - first));
                }
                seq.push(val(run, 1));
                if index != last {
                    seq.push(val(current, last - index));
                }
            }
            Opcode::Zero(_) | Opcode::XZero(_) => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val(run, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
        }
        let old_bytes = op.bytes();
        if at + old_bytes > value.len() {
            // An XZERO cut short in its last byte: nothing sound to split.
            return Err(Corrupt);
        }
        if seq.len() > old_bytes && value.len() + seq.len() - old_bytes > sparse_bytes_max {
            return promote(value, index, run);
        }
        splice(value, at, old_bytes, &seq);
    }
    // Step 4: merge adjacent VALs of the same value, scanning up to five opcodes from the
    // one before.
    let mut at = previous.unwrap_or(HEADER_BYTES);
    let mut scans = 5;
    while at < value.len() && scans > 0 {
        scans -= 1;
        let op = Opcode::at(value, at);
        let Opcode::Val { value: v1, run: r1 } = op else {
            at += op.bytes();
            continue;
        };
        if at + 1 < value.len()
            && let Opcode::Val { value: v2, run: r2 } = Opcode::at(value, at + 1)
            && v1 == v2
            && r1 + r2 <= VAL_RUN_MAX
        {
            value[at + 1] = val(v1, r1 + r2);
            splice(value, at, 1, &[]);
            // The merged opcode may merge with the next one too.
            continue;
        }
        at += 1;
    }
    mark_cardinality_stale(value);
    Ok(true)
}

/// Replaces `old_bytes` bytes at `at` with `new`.
fn splice(value: &mut BytesMut, at: usize, old_bytes: usize, new: &[u8]) {
    let len = value.len();
    let tail = at + old_bytes..len;
    if new.len() > old_bytes {
        value.resize(len + new.len() - old_bytes, 0);
        value.copy_within(tail, at + new.len());
    } else if new.len() < old_bytes {
        value.copy_within(tail, at + new.len());
        value.truncate(len - (old_bytes - new.len()));
    }
    value[at..at + new.len()].copy_from_slice(new);
}

/// Turns the sketch dense and raises the register there; it must change, since the
/// sparse form could not hold the new value.
fn promote(value: &mut BytesMut, index: usize, run: u8) -> Result<bool, Corrupt> {
    make_dense(value)?;
    let raised = dense_raise(&mut value[HEADER_BYTES..], index, run);
    debug_assert!(raised, "a promotion always raises the register");
    Ok(raised)
}

/// Raises register `index` to `run` in either encoding; whether it changed.
pub fn raise(
    value: &mut BytesMut,
    index: usize,
    run: u8,
    sparse_bytes_max: usize,
) -> Result<bool, Corrupt> {
    match value[ENCODING_OFFSET] {
        DENSE => Ok(dense_raise(&mut value[HEADER_BYTES..], index, run)),
        SPARSE => sparse_raise(value, index, run, sparse_bytes_max),
        _ => Err(Corrupt),
    }
}

/// Adds an element (`hllAdd`): whether a register changed. The caller marks the cached
/// cardinality stale.
pub fn add(value: &mut BytesMut, element: &[u8], sparse_bytes_max: usize) -> Result<bool, Corrupt> {
    let (index, run) = register_and_run(element);
    raise(value, index, run, sparse_bytes_max)
}

// ----- reading -------------------------------------------------------------------------

/// Raises `max[i]` to register `i` of the sketch, for every register (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], value: &[u8]) -> Result<(), Corrupt> {
    if value[ENCODING_OFFSET] == DENSE {
        let registers = &value[HEADER_BYTES..];
        for (i, slot) in max.iter_mut().enumerate() {
            *slot = (*slot).max(dense_get(registers, i));
        }
        return Ok(());
    }
    for_each_val(value, |first, run, v| {
        for slot in &mut max[first..first + run] {
            *slot = (*slot).max(v);
        }
    })
}

/// How many registers hold each value. Redis sizes it for any six-bit value, so a damaged
/// dense sketch still counts.
type Histogram = [u32; 64];

#[allow(clippy::cast_possible_truncation, reason = "run lengths fit u32")]
fn histogram(value: &[u8]) -> Result<Histogram, Corrupt> {
    let mut histogram = [0u32; 64];
    match value[ENCODING_OFFSET] {
        DENSE => {
            let registers = &value[HEADER_BYTES..];
            for i in 0..REGISTERS {
                histogram[usize::from(dense_get(registers, i))] += 1;
            }
        }
        SPARSE => {
            let mut index = 0;
            let mut at = HEADER_BYTES;
            while at < value.len() {
                let op = Opcode::at(value, at);
                let slot = match op {
                    Opcode::Val { value: v, .. } => usize::from(v),
                    _ => 0,
                };
                histogram[slot] += op.registers() as u32;
                index += op.registers();
                at += op.bytes();
            }
            if index != REGISTERS {
                return Err(Corrupt);
            }
        }
        _ => return Err(Corrupt),
    }
    Ok(histogram)
}

/// The estimated cardinality of a sketch (`hllCount`).
pub fn cardinality(value: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(value)?))
}

/// The estimated cardinality of registers held one per byte, as PFCOUNT of several keys
/// merges them.
pub fn cardinality_of_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histogram = [0u32; 64];
    for &register in registers {
        histogram[usize::from(register & 63)] += 1;
    }
    estimate(&histogram)
}

/// Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
/// arXiv:1702.01284), in Redis's order of operations.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the estimate is a positive count, rounded as llroundl rounds"
)]
fn estimate(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[RUN_BITS + 1])) / m);
    for j in (1..=RUN_BITS).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        // C's pow(1 - x, 2): the same correctly rounded square.
        z -= (1.0 - x).powf(2.0) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// Every register of a dense sketch, one per byte (PFDEBUG GETREG).
pub fn dense_registers(value: &[u8]) -> Vec<u8> {
    let registers = &value[HEADER_BYTES..];
    (0..REGISTERS).map(|i| dense_get(registers, i)).collect()
}

/// A sparse sketch's opcodes as PFDEBUG DECODE prints them: `z:N`, `Z:N`, `v:VALUE,N`.
pub fn describe_sparse(value: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = HEADER_BYTES;
    while at < value.len() {
        let op = Opcode::at(value, at);
        out.push(match op {
            Opcode::Zero(run) => format!("z:{run}"),
            Opcode::XZero(run) => format!("Z:{run}"),
            Opcode::Val { value, run } => format!("v:{value},{run}"),
        });
        at += op.bytes();
    }
    out.join(" ")
}

/// PFSELFTEST: registers read back what was written without touching their neighbours,
/// and the estimate of up to 10^7 distinct elements stays within six standard errors,
/// sparse and dense agreeing. `random` supplies the test's randomness.
pub fn self_test(sparse_bytes_max: usize, mut random: impl FnMut() -> u64) -> Result<(), String> {
    let mut dense = vec![0u8; DENSE_BYTES];
    dense[..4].copy_from_slice(b"HYLL");
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, slot) in expected.iter_mut().enumerate() {
            #[allow(clippy::cast_possible_truncation, reason = "masked to six bits")]
            let v = (random() & u64::from(REGISTER_MAX)) as u8;
            *slot = v;
            dense_put(&mut dense[HEADER_BYTES..], i, v);
        }
        for (i, &want) in expected.iter().enumerate() {
            let got = dense_get(&dense[HEADER_BYTES..], i);
            if got != want {
                return Err(format!(
                    "TESTFAILED Register {i} should be {want} but is {got}"
                ));
            }
        }
    }
    dense[HEADER_BYTES..].fill(0);
    let mut sparse = BytesMut::from(&new_sparse()[..]);
    let relative_error = 1.04 / (REGISTERS as f64).sqrt();
    let seed = random();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let element = (j ^ seed).to_le_bytes();
        let (index, run) = register_and_run(&element);
        dense_raise(&mut dense[HEADER_BYTES..], index, run);
        add(&mut sparse, &element, sparse_bytes_max).map_err(|e| format!("TESTFAILED {e}"))?;
        if j != checkpoint {
            continue;
        }
        if usize::try_from(j).is_ok_and(|j| j < sparse_bytes_max / 2)
            && sparse[ENCODING_OFFSET] != SPARSE
        {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let estimate = cardinality(&dense).map_err(|e| format!("TESTFAILED {e}"))?;
        if cardinality(&sparse).ok() != Some(estimate) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "checkpoints are powers of ten up to 10^7"
        )]
        let allowed = if j == 10 {
            // Collisions make a large error at 10 likely enough to allow it.
            1
        } else {
            (relative_error * 6.0 * checkpoint as f64).ceil() as u64
        };
        if checkpoint.abs_diff(estimate) > allowed {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{}",
                checkpoint.abs_diff(estimate)
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}
