//! LZF, the compression Redis applies to RDB strings (`rdbcompression yes`).
//!
//! Format: a control byte below 32 starts a literal run of `ctrl + 1` bytes; any other control
//! byte is a back reference whose top 3 bits are the length minus 2 (7 means "add the next
//! byte") and whose low 5 bits, with the following byte, are the distance minus 1 (13 bits).

/// The most output one input byte can produce: a 3-byte back reference copies at most 264
/// bytes. Used to refuse declared lengths that no real input could produce, before allocating.
pub const EXPANSION_RATIO_MAX: u64 = 88;

const DISTANCE_MAX: usize = 1 << 13;
const MATCH_LEN_MAX: usize = 7 + 255 + 2;
const LITERAL_RUN_MAX: usize = 32;
const HASH_LOG_MAX: u32 = 14;

/// Why decompression failed, with the position in the compressed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LzfError {
    pub pos: usize,
    pub reason: &'static str,
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes. The caller caps
/// `out_len` before calling: it is allocated up front.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while let Some(&ctrl) = input.get(ip) {
        let ctrl = ctrl as usize;
        let ctrl_pos = ip;
        ip += 1;
        if ctrl < LITERAL_RUN_MAX {
            let run = ctrl + 1;
            let Some(lit) = input.get(ip..ip + run) else {
                return Err(LzfError {
                    pos: ctrl_pos,
                    reason: "literal run past the end of the input",
                });
            };
            if out.len() + run > out_len {
                return Err(LzfError {
                    pos: ctrl_pos,
                    reason: "output longer than the declared length",
                });
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                let Some(&extra) = input.get(ip) else {
                    return Err(LzfError {
                        pos: ctrl_pos,
                        reason: "back reference cut short",
                    });
                };
                len += extra as usize;
                ip += 1;
            }
            let Some(&low) = input.get(ip) else {
                return Err(LzfError {
                    pos: ctrl_pos,
                    reason: "back reference cut short",
                });
            };
            ip += 1;
            let distance = (((ctrl & 0x1f) << 8) | low as usize) + 1;
            let len = len + 2;
            if distance > out.len() {
                return Err(LzfError {
                    pos: ctrl_pos,
                    reason: "back reference before the start of the output",
                });
            }
            if out.len() + len > out_len {
                return Err(LzfError {
                    pos: ctrl_pos,
                    reason: "output longer than the declared length",
                });
            }
            let start = out.len() - distance;
            if distance >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: the reference repeats bytes it is producing, so copy in
                // steps of `distance`, each of which only reads already-written bytes.
                let mut left = len;
                while left > 0 {
                    let step = left.min(distance);
                    let from = out.len() - distance;
                    out.extend_from_within(from..from + step);
                    left -= step;
                }
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError {
            pos: input.len(),
            reason: "output shorter than the declared length",
        });
    }
    Ok(out)
}

/// Compresses `input` into `out`, giving up (returning `false`, `out` then holds garbage) as
/// soon as the output would exceed `out_len_max` bytes. `out` is cleared first.
#[allow(
    clippy::indexing_slicing,
    reason = "the compressor indexes only its own input and hash table, bounded by the loop guard"
)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "positions fit u32 (checked on entry); match lengths and distances are bounded by the format's limits before they are packed"
)]
pub fn compress_into(input: &[u8], out_len_max: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    let n = input.len();
    // Positions are kept as u32; RDB strings are far below that in practice.
    if n < 4 || n >= u32::MAX as usize {
        return false;
    }
    // Positions are stored plus one so that zero means "empty slot". The table shrinks with
    // the input so that compressing many small strings does not zero 64 KiB each time.
    let hash_log = (usize::BITS - n.leading_zeros()).clamp(8, HASH_LOG_MAX);
    let mut table = vec![0u32; 1 << hash_log];
    let mut lit_start = 0usize;
    let mut i = 0usize;
    while i + 2 < n {
        let seq =
            u32::from(input[i]) << 16 | u32::from(input[i + 1]) << 8 | u32::from(input[i + 2]);
        let h = (seq.wrapping_mul(2_654_435_761) >> (32 - hash_log)) as usize;
        let cand = table[h] as usize;
        table[h] = (i + 1) as u32;
        if cand != 0 {
            let r = cand - 1;
            let distance = i - r;
            if distance <= DISTANCE_MAX && input[r..r + 3] == input[i..i + 3] {
                let len_max = MATCH_LEN_MAX.min(n - i);
                let mut len = 3;
                while len < len_max && input[r + len] == input[i + len] {
                    len += 1;
                }
                if !emit_literals(&input[lit_start..i], out, out_len_max) {
                    return false;
                }
                let l = len - 2;
                let d = distance - 1;
                if l < 7 {
                    out.push(((l << 5) | (d >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (d >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((d & 0xff) as u8);
                if out.len() > out_len_max {
                    return false;
                }
                i += len;
                lit_start = i;
                continue;
            }
        }
        i += 1;
    }
    emit_literals(&input[lit_start..], out, out_len_max)
}

#[allow(clippy::indexing_slicing, reason = "run is at most lit.len()")]
#[expect(
    clippy::cast_possible_truncation,
    reason = "run is at most LITERAL_RUN_MAX (32)"
)]
fn emit_literals(mut lit: &[u8], out: &mut Vec<u8>, out_len_max: usize) -> bool {
    while !lit.is_empty() {
        let run = lit.len().min(LITERAL_RUN_MAX);
        out.push((run - 1) as u8);
        out.extend_from_slice(&lit[..run]);
        lit = &lit[run..];
    }
    out.len() <= out_len_max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8]) {
        let mut out = Vec::new();
        if compress_into(data, data.len() * 2 + 64, &mut out) {
            assert_eq!(decompress(&out, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn roundtrips() {
        roundtrip(b"");
        roundtrip(b"abcd");
        roundtrip(&[b'a'; 10_000]);
        roundtrip(b"abcabcabcabcabcabcabcabcabc hello hello hello world");
        let mut v = Vec::new();
        for i in 0..20_000u32 {
            v.extend_from_slice(&(i % 977).to_le_bytes());
        }
        roundtrip(&v);
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
            .collect();
        roundtrip(&noise);
    }

    #[test]
    fn compresses_repetitive_data() {
        let data = [b'x'; 1000];
        let mut out = Vec::new();
        assert!(compress_into(&data, 100, &mut out));
        assert!(out.len() < 30);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(decompress(&[5, b'a'], 6).is_err()); // literal past end
        assert!(decompress(&[0x20, 0x00], 3).is_err()); // reference before start
        assert!(decompress(&[0, b'a'], 2).is_err()); // too short
        assert!(decompress(&[0, b'a', 0x20, 0x00], 2).is_err()); // too long
        assert!(decompress(&[0, b'a', 0xe0], 10).is_err()); // cut short
        assert_eq!(decompress(&[0, b'a', 0x20, 0x00], 4).unwrap(), b"aaaa");
    }
}
