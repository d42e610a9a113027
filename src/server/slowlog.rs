//! The slow log (SLOWLOG): the newest commands that ran longer than
//! `slowlog-log-slower-than`, at most `slowlog-max-len` of them, as Redis keeps them.

use std::collections::VecDeque;

use bytes::Bytes;

/// Arguments kept per entry; the last one kept says how many more there were.
pub const ARGS_MAX: usize = 32;
/// Bytes kept per argument; the rest is summarized.
pub const ARG_BYTES_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowlogEntry {
    pub id: u64,
    pub unix_seconds: u64,
    pub duration_us: u64,
    pub argv: Vec<Bytes>,
    /// `ip:port` of the client.
    pub peer: String,
    pub client_name: Bytes,
}

#[derive(Debug, Default)]
pub struct Slowlog {
    /// Newest first.
    entries: VecDeque<SlowlogEntry>,
    /// Ids keep counting across RESET, as in Redis.
    next_id: u64,
}

/// The arguments as an entry keeps them: at most [`ARGS_MAX`], each at most
/// [`ARG_BYTES_MAX`] bytes, with Redis's notes on what was cut.
pub fn trimmed_args(argv: &[Bytes]) -> Vec<Bytes> {
    let kept = argv.len().min(ARGS_MAX);
    let mut out = Vec::with_capacity(kept);
    for (i, arg) in argv.iter().take(kept).enumerate() {
        if kept != argv.len() && i == kept - 1 {
            let more = argv.len() - kept + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if arg.len() > ARG_BYTES_MAX {
            let mut text = arg[..ARG_BYTES_MAX].to_vec();
            text.extend_from_slice(
                format!("... ({} more bytes)", arg.len() - ARG_BYTES_MAX).as_bytes(),
            );
            out.push(Bytes::from(text));
        } else {
            out.push(arg.clone());
        }
    }
    out
}

impl Slowlog {
    /// Adds an entry (its id is assigned here) and drops the oldest beyond `len_max`.
    pub fn push(&mut self, mut entry: SlowlogEntry, len_max: usize) {
        entry.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(len_max);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Newest first.
    pub fn newest(&self, count: usize) -> impl Iterator<Item = &SlowlogEntry> {
        self.entries.iter().take(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> SlowlogEntry {
        SlowlogEntry {
            id: 0,
            unix_seconds: 1,
            duration_us: 2,
            argv: vec![Bytes::from_static(b"ping")],
            peer: "127.0.0.1:1".into(),
            client_name: Bytes::new(),
        }
    }

    #[test]
    fn ids_keep_counting_and_the_oldest_go() {
        let mut log = Slowlog::default();
        for _ in 0..5 {
            log.push(entry(), 3);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(
            log.newest(10).map(|e| e.id).collect::<Vec<_>>(),
            vec![4, 3, 2]
        );
        log.reset();
        log.push(entry(), 3);
        assert_eq!(log.newest(1).next().map(|e| e.id), Some(5));
    }

    #[test]
    fn long_commands_are_trimmed_as_redis_trims_them() {
        let argv: Vec<Bytes> = (0..34).map(|i| Bytes::from(i.to_string())).collect();
        let kept = trimmed_args(&argv);
        assert_eq!(kept.len(), 32);
        assert_eq!(kept[31], Bytes::from_static(b"... (3 more arguments)"));
        let long = trimmed_args(&[Bytes::from(vec![b'A'; 129])]);
        assert!(long[0].ends_with(b"A... (1 more bytes)"));
        assert_eq!(long[0].len(), 128 + "... (1 more bytes)".len());
    }
}
