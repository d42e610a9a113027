//! The command table, built once from every family's `COMMANDS`.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Handler;

#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments including the name, -N at least N.
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// Redis's command group (`string`, `list`, `generic`, ...) for COMMAND DOCS.
    pub group: &'static str,
    pub handler: Handler,
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Key positions for COMMAND GETKEYS and friends.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            i32::try_from(argc)
                .unwrap_or(i32::MAX)
                .saturating_add(self.last_key)
        } else {
            self.last_key
        };
        let step = self.key_step.max(1) as usize;
        (self.first_key as usize..=last.max(0) as usize)
            .step_by(step)
            .filter(|&i| i < argc)
            .collect()
    }
}

fn families() -> impl Iterator<Item = &'static CommandSpec> {
    [
        super::connection::COMMANDS,
        super::server::COMMANDS,
        super::string::COMMANDS,
        super::bitmap::COMMANDS,
        super::keys::COMMANDS,
        super::list::COMMANDS,
        super::hash::COMMANDS,
        super::set::COMMANDS,
        super::zset::COMMANDS,
        super::geo::COMMANDS,
        super::hll::COMMANDS,
        super::stream::COMMANDS,
        super::transaction::COMMANDS,
        super::pubsub::COMMANDS,
        super::repl::COMMANDS,
        super::scripting::COMMANDS,
        super::cluster::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

type Table = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::RandomState>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| families().map(|c| (c.name.as_bytes(), c)).collect())
}

/// Every command, sorted by name.
pub fn all() -> Vec<&'static CommandSpec> {
    let mut all: Vec<_> = table().values().copied().collect();
    all.sort_by_key(|c| c.name);
    all
}

/// Finds a command by name, case-insensitively, without allocating for short names.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().get(&*lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in families() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
        }
        assert!(lookup(b"PiNg").is_some());
    }
}
