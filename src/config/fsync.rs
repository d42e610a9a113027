//! `repl-log-fsync`: when the durable replication log is synced to disk.

/// How often the durable log is synced (`repl-log-fsync`); what each promises is in README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before any reply that depends on a record (group commit).
    Always,
    /// At most a second after a write.
    EverySec,
    /// Only when a snapshot, a shutdown or a replica needs it.
    No,
}

impl FsyncPolicy {
    pub fn parse(text: &str) -> Option<FsyncPolicy> {
        match text {
            "always" => Some(FsyncPolicy::Always),
            "everysec" => Some(FsyncPolicy::EverySec),
            "no" => Some(FsyncPolicy::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}
