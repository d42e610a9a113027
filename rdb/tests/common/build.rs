//! Test-only writers of RDB byte layouts the encoder never produces (zipmap, ziplist, old
//! quicklist, set listpack, streams, modules, ...), written from the format description so the
//! decoder is checked against an independent implementation.
#![allow(dead_code)]
#![expect(
    clippy::cast_possible_truncation,
    reason = "writes RDB fields: the narrowing casts pack lengths and integers on purpose"
)]

use sluice_rdb::crc::crc64;

/// An RDB under construction.
pub struct Rdb {
    pub buf: Vec<u8>,
}

impl Rdb {
    pub fn new(version: u32) -> Self {
        Self {
            buf: format!("REDIS{version:04}").into_bytes(),
        }
    }

    /// An RDB with another header, such as `VALKEY080`.
    pub fn with_header(header: &[u8]) -> Self {
        Self {
            buf: header.to_vec(),
        }
    }

    pub fn u8(&mut self, b: u8) -> &mut Self {
        self.buf.push(b);
        self
    }

    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    pub fn len(&mut self, n: u64) -> &mut Self {
        let b = rdb_len(n);
        self.raw(&b)
    }

    pub fn string(&mut self, s: &[u8]) -> &mut Self {
        self.len(s.len() as u64).raw(s)
    }

    /// EOF opcode followed by the CRC-64 of everything before it.
    pub fn eof(&mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let crc = crc64(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf.clone()
    }

    /// EOF opcode alone (versions below 5).
    pub fn eof_no_crc(&mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        self.buf.clone()
    }
}

pub fn rdb_len(n: u64) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else if n <= u64::from(u32::MAX) {
        let mut v = vec![0x80];
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v
    } else {
        let mut v = vec![0x81];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
}

#[derive(Clone, Debug)]
pub enum Ent<'a> {
    S(&'a [u8]),
    I(i64),
}

/// A ziplist with the smallest encodings (and 5-byte prevlens where needed).
pub fn ziplist(entries: &[Ent<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev_len = 0usize;
    let mut tail = 10usize;
    for e in entries {
        let start = body.len();
        tail = 10 + start;
        if prev_len < 254 {
            body.push(prev_len as u8);
        } else {
            body.push(0xFE);
            body.extend_from_slice(&(prev_len as u32).to_le_bytes());
        }
        match e {
            Ent::S(s) => {
                let n = s.len();
                if n < 64 {
                    body.push(n as u8);
                } else if n < 16384 {
                    body.push(0x40 | (n >> 8) as u8);
                    body.push(n as u8);
                } else {
                    body.push(0x80);
                    body.extend_from_slice(&(n as u32).to_be_bytes());
                }
                body.extend_from_slice(s);
            }
            Ent::I(v) => {
                let v = *v;
                if (0..=12).contains(&v) {
                    body.push(0xF1 + v as u8);
                } else if let Ok(x) = i8::try_from(v) {
                    body.push(0xFE);
                    body.push(x as u8);
                } else if let Ok(x) = i16::try_from(v) {
                    body.push(0xC0);
                    body.extend_from_slice(&x.to_le_bytes());
                } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                    body.push(0xF0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                } else if let Ok(x) = i32::try_from(v) {
                    body.push(0xD0);
                    body.extend_from_slice(&x.to_le_bytes());
                } else {
                    body.push(0xE0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        prev_len = body.len() - start;
    }
    let total = 10 + body.len() + 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(tail as u32).to_le_bytes());
    out.extend_from_slice(&(entries.len().min(65535) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

fn lp_backlen(l: usize) -> Vec<u8> {
    if l <= 127 {
        vec![l as u8]
    } else if l < 16383 {
        vec![(l >> 7) as u8, (l & 127) as u8 | 128]
    } else if l < 2097151 {
        vec![
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]
    } else {
        vec![
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]
    }
}

/// A listpack with the smallest encodings.
pub fn listpack(entries: &[Ent<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in entries {
        let mut ent = Vec::new();
        match e {
            Ent::S(s) => {
                let n = s.len();
                if n < 64 {
                    ent.push(0x80 | n as u8);
                } else if n < 4096 {
                    ent.push(0xE0 | (n >> 8) as u8);
                    ent.push(n as u8);
                } else {
                    ent.push(0xF0);
                    ent.extend_from_slice(&(n as u32).to_le_bytes());
                }
                ent.extend_from_slice(s);
            }
            Ent::I(v) => {
                let v = *v;
                if (0..=127).contains(&v) {
                    ent.push(v as u8);
                } else if (-4096..4096).contains(&v) {
                    let raw = (v as u16) & 0x1fff;
                    ent.push(0xC0 | (raw >> 8) as u8);
                    ent.push(raw as u8);
                } else if let Ok(x) = i16::try_from(v) {
                    ent.push(0xF1);
                    ent.extend_from_slice(&x.to_le_bytes());
                } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                    ent.push(0xF2);
                    ent.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                } else if let Ok(x) = i32::try_from(v) {
                    ent.push(0xF3);
                    ent.extend_from_slice(&x.to_le_bytes());
                } else {
                    ent.push(0xF4);
                    ent.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let bl = lp_backlen(ent.len());
        body.extend_from_slice(&ent);
        body.extend_from_slice(&bl);
    }
    let total = 6 + body.len() + 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(entries.len().min(65535) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

/// A zipmap; `free` extra unused bytes follow each value, as after an in-place update.
pub fn zipmap(pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
    let zlen = |out: &mut Vec<u8>, n: usize| {
        if n < 254 {
            out.push(n as u8);
        } else {
            out.push(254);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
    };
    let mut out = vec![pairs.len().min(254) as u8];
    for (k, v) in pairs {
        zlen(&mut out, k.len());
        out.extend_from_slice(k);
        zlen(&mut out, v.len());
        out.push(free);
        out.extend_from_slice(v);
        out.extend(std::iter::repeat_n(0u8, usize::from(free)));
    }
    out.push(0xFF);
    out
}

/// An intset of the given width (2, 4 or 8) from sorted values.
pub fn intset(width: u32, values: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width as usize]);
    }
    out
}

/// One stream entry for [`stream_node`]: (ms, seq, fields, deleted).
pub type StreamEnt<'a> = (u64, u64, Vec<(&'a [u8], &'a [u8])>, bool);

/// A stream listpack node: master entry built from the first entry's fields, then entries,
/// using SAMEFIELDS when the fields match the master's.
pub fn stream_node(master: (u64, u64), entries: &[StreamEnt<'_>]) -> Vec<u8> {
    let master_fields: Vec<&[u8]> = entries[0].2.iter().map(|(f, _)| *f).collect();
    let live = entries.iter().filter(|e| !e.3).count() as i64;
    let deleted = entries.len() as i64 - live;
    let mut ents: Vec<Ent<'_>> = vec![
        Ent::I(live),
        Ent::I(deleted),
        Ent::I(master_fields.len() as i64),
    ];
    ents.extend(master_fields.iter().map(|f| Ent::S(f)));
    ents.push(Ent::I(0));
    for (ms, seq, fields, del) in entries {
        let same = fields.iter().map(|(f, _)| *f).collect::<Vec<_>>() == master_fields;
        let flags = i64::from(*del) | if same { 2 } else { 0 };
        ents.push(Ent::I(flags));
        ents.push(Ent::I((ms - master.0) as i64));
        ents.push(Ent::I((seq.wrapping_sub(master.1)) as i64));
        if same {
            for (_, v) in fields {
                ents.push(Ent::S(v));
            }
            ents.push(Ent::I(fields.len() as i64 + 3));
        } else {
            ents.push(Ent::I(fields.len() as i64));
            for (f, v) in fields {
                ents.push(Ent::S(f));
                ents.push(Ent::S(v));
            }
            ents.push(Ent::I(fields.len() as i64 * 2 + 4));
        }
    }
    listpack(&ents)
}

pub fn stream_id_raw(ms: u64, seq: u64) -> Vec<u8> {
    let mut v = ms.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

/// LZF "compression" made only of literal runs: valid input for any LZF decoder.
pub fn lzf_literals(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(32) {
        out.push(chunk.len() as u8 - 1);
        out.extend_from_slice(chunk);
    }
    out
}
