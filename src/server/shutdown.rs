//! A shutdown waiting for replicas (see `cmd::server::shutdown`): data of the server state.

/// SHUTDOWN (or SIGTERM) waiting up to `shutdown-timeout` for replicas to catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingShutdown {
    pub deadline_ms: u64,
    /// The client whose SHUTDOWN is waiting (it gets an error if the shutdown is aborted).
    pub caller: Option<u64>,
    /// SAVE / NOSAVE, None: save if save points are configured.
    pub save: Option<bool>,
    /// FORCE: exit even if the final save fails.
    pub force: bool,
}
