//! The script running now, as seen from outside the server lock. A script runs under the
//! lock like any command; once it has run for `busy-reply-threshold`, connections answer
//! their requests BUSY without waiting for the lock, and SCRIPT KILL or FUNCTION KILL ask it
//! (through here) to stop. The Lua VM's hook reads the request.
//!
//! The server holds one; each engine holds it too, for its hook.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// What kind of script runs: it decides which KILL stops it and how BUSY is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    Eval,
    Function,
}

const NONE: u8 = 0;
const EVAL: u8 = 1;
const FUNCTION: u8 = 2;

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What FUNCTION STATS shows of a running function, taken when it started (the registry
/// is behind the lock the script holds).
#[derive(Debug, Clone, Default)]
pub struct RunningScript {
    pub name: String,
    pub command: Vec<Bytes>,
    pub libraries_count: usize,
    pub functions_count: usize,
}

/// The answer to a KILL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    Killed,
    NotBusy,
    /// It wrote already: stopping it half-way would leave half its effects.
    Unkillable,
    /// The master's stream runs it: it must finish as the master ran it.
    FromMaster,
    /// SCRIPT KILL for a function, or FUNCTION KILL for a script.
    WrongKind(ScriptKind),
}

#[derive(Debug, Default)]
pub struct ScriptWatch {
    kind: AtomicU8,
    started_ms: AtomicU64,
    threshold_ms: AtomicU64,
    wrote: AtomicBool,
    from_master: AtomicBool,
    kill: AtomicBool,
    /// While a library loads: the Unix ms by which it must be done (0: no limit).
    load_deadline_ms: AtomicU64,
    /// The running script's thread gave its other tasks to another thread.
    handed_off: AtomicBool,
    running: Mutex<Option<RunningScript>>,
}

impl ScriptWatch {
    /// A script starts (called under the server lock).
    pub fn start(
        &self,
        kind: ScriptKind,
        now_ms: u64,
        threshold_ms: u64,
        from_master: bool,
        running: RunningScript,
    ) {
        *self.running.lock() = Some(running);
        self.started_ms.store(now_ms, Ordering::SeqCst);
        self.threshold_ms.store(threshold_ms, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        self.from_master.store(from_master, Ordering::SeqCst);
        self.kill.store(false, Ordering::SeqCst);
        self.handed_off.store(false, Ordering::SeqCst);
        let code = match kind {
            ScriptKind::Eval => EVAL,
            ScriptKind::Function => FUNCTION,
        };
        self.kind.store(code, Ordering::SeqCst);
    }

    /// The script ended.
    pub fn finish(&self) {
        self.kind.store(NONE, Ordering::SeqCst);
        self.kill.store(false, Ordering::SeqCst);
        *self.running.lock() = None;
    }

    /// The running script's kind, if one runs: one atomic load.
    pub fn running(&self) -> Option<ScriptKind> {
        match self.kind.load(Ordering::Acquire) {
            EVAL => Some(ScriptKind::Eval),
            FUNCTION => Some(ScriptKind::Function),
            _ => None,
        }
    }

    /// The running script's kind, once it has run past the threshold (0 never is busy).
    pub fn busy(&self, now_ms: u64) -> Option<ScriptKind> {
        let kind = self.running()?;
        let threshold = self.threshold_ms.load(Ordering::Acquire);
        let started = self.started_ms.load(Ordering::Acquire);
        (threshold > 0 && now_ms.saturating_sub(started) >= threshold).then_some(kind)
    }

    pub fn started_ms(&self) -> u64 {
        self.started_ms.load(Ordering::Acquire)
    }

    pub fn describe(&self) -> Option<RunningScript> {
        self.running.lock().clone()
    }

    /// The script ran a write: it can no longer be killed.
    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::Release);
    }

    /// Whether the running script was asked to stop.
    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Acquire)
    }

    /// Called by the VM's hook while a script runs: once it ran for [`HAND_OFF_AFTER_MS`]
    /// (or half the busy threshold, if lower), the runtime's other tasks on this thread
    /// (other clients, to be answered BUSY) move to another thread, once per script. Short
    /// scripts, nearly all of them, never pay for it.
    pub fn give_way_if_long(&self) {
        if self.running().is_none() || self.handed_off.load(Ordering::Acquire) {
            return;
        }
        let threshold = self.threshold_ms.load(Ordering::Acquire);
        let after = HAND_OFF_AFTER_MS.min((threshold / 2).max(1));
        if now_ms().saturating_sub(self.started_ms()) < after {
            return;
        }
        self.handed_off.store(true, Ordering::Release);
        hand_off_thread();
    }

    /// A library starts loading and must be done by `deadline_ms`, or stops loading.
    pub fn set_load_deadline(&self, deadline_ms: Option<u64>) {
        self.load_deadline_ms
            .store(deadline_ms.unwrap_or(0), Ordering::Release);
    }

    /// Whether the loading library ran out of time.
    pub fn load_timed_out(&self) -> bool {
        let deadline = self.load_deadline_ms.load(Ordering::Acquire);
        deadline != 0 && now_ms() > deadline
    }

    /// SCRIPT KILL (`kind` Eval) or FUNCTION KILL (Function), with Redis's refusals.
    pub fn request_kill(&self, kind: ScriptKind) -> KillOutcome {
        let Some(running) = self.running() else {
            return KillOutcome::NotBusy;
        };
        if self.from_master.load(Ordering::Acquire) {
            return KillOutcome::FromMaster;
        }
        if self.wrote.load(Ordering::Acquire) {
            return KillOutcome::Unkillable;
        }
        if running != kind {
            return KillOutcome::WrongKind(running);
        }
        self.kill.store(true, Ordering::Release);
        KillOutcome::Killed
    }
}

/// How long a script runs before its thread hands the runtime's other tasks over.
pub const HAND_OFF_AFTER_MS: u64 = 20;

/// Hands the tokio worker this thread runs, and its queued tasks, to another thread, and
/// keeps running the script here. `block_in_place` starts the other thread; the pause
/// inside it lets that thread take the worker before this one could take it back.
/// Outside a multi-thread runtime (start-up replay, tests) there is nothing to hand over.
fn hand_off_thread() {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(2)));
    }
}

/// The wall clock in Unix ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| crate::util::num::u64_saturating(d.as_millis()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> RunningScript {
        RunningScript {
            name: "f".into(),
            ..RunningScript::default()
        }
    }

    #[test]
    fn busy_only_past_the_threshold() {
        let watch = ScriptWatch::default();
        assert_eq!(watch.busy(10_000), None);
        watch.start(ScriptKind::Eval, 1_000, 5_000, false, running());
        assert_eq!(watch.busy(5_999), None);
        assert_eq!(watch.busy(6_000), Some(ScriptKind::Eval));
        watch.finish();
        assert_eq!(watch.busy(6_000), None);
    }

    #[test]
    fn kills_follow_redis_rules() {
        let watch = ScriptWatch::default();
        assert_eq!(watch.request_kill(ScriptKind::Eval), KillOutcome::NotBusy);
        watch.start(ScriptKind::Function, 0, 10, false, running());
        assert_eq!(
            watch.request_kill(ScriptKind::Eval),
            KillOutcome::WrongKind(ScriptKind::Function)
        );
        assert!(!watch.kill_requested());
        assert_eq!(
            watch.request_kill(ScriptKind::Function),
            KillOutcome::Killed
        );
        assert!(watch.kill_requested());
        watch.start(ScriptKind::Eval, 0, 10, false, running());
        watch.note_write();
        assert_eq!(
            watch.request_kill(ScriptKind::Eval),
            KillOutcome::Unkillable
        );
    }
}
