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
    /// Counted by tasks that wait for the running script (`Server::script_ended`): if it
    /// moves, the runtime serves others and no hand-over is needed.
    runtime_ticks: AtomicU64,
    /// `runtime_ticks` when the hook last looked.
    ticks_at_last_look: AtomicU64,
    /// When the running script's thread last tried to hand its worker over (0: never).
    last_hand_off_ms: AtomicU64,
    running: Mutex<Option<RunningScript>>,
    /// The VMs' figures as last measured, for INFO while a script holds its VM (INFO
    /// called from a script cannot take the VM's lock; it reports these).
    eval_vm_bytes: AtomicU64,
    eval_scripts_bytes: AtomicU64,
    eval_scripts_count: AtomicU64,
    functions_vm_bytes: AtomicU64,
}

/// What INFO memory reports of the Lua VMs.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmFigures {
    pub eval_vm_bytes: u64,
    pub eval_scripts_bytes: u64,
    pub eval_scripts_count: u64,
    pub functions_vm_bytes: u64,
}

impl ScriptWatch {
    /// Records the eval VM's figures.
    pub fn note_eval_vm(&self, vm_bytes: u64, scripts_bytes: u64, scripts_count: u64) {
        self.eval_vm_bytes.store(vm_bytes, Ordering::Relaxed);
        self.eval_scripts_bytes
            .store(scripts_bytes, Ordering::Relaxed);
        self.eval_scripts_count
            .store(scripts_count, Ordering::Relaxed);
    }

    pub fn note_functions_vm(&self, vm_bytes: u64) {
        self.functions_vm_bytes.store(vm_bytes, Ordering::Relaxed);
    }

    pub fn vm_figures(&self) -> VmFigures {
        VmFigures {
            eval_vm_bytes: self.eval_vm_bytes.load(Ordering::Relaxed),
            eval_scripts_bytes: self.eval_scripts_bytes.load(Ordering::Relaxed),
            eval_scripts_count: self.eval_scripts_count.load(Ordering::Relaxed),
            functions_vm_bytes: self.functions_vm_bytes.load(Ordering::Relaxed),
        }
    }

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
        self.last_hand_off_ms.store(0, Ordering::SeqCst);
        self.ticks_at_last_look
            .store(self.runtime_ticks.load(Ordering::SeqCst), Ordering::SeqCst);
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

    /// A task waiting for the script saw it still running: the runtime is alive.
    pub fn tick(&self) {
        self.runtime_ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// Called by the VM's hook while a script runs: once it ran for [`HAND_OFF_AFTER_MS`]
    /// (or half the busy threshold, if lower), if no task of the runtime has run since the
    /// hook last looked, this thread hands its tokio worker and the tasks queued on it
    /// (other clients, to be answered BUSY) to another thread; it tries again every
    /// [`HAND_OFF_RETRY_MS`] while the runtime stays stuck (a hand-over can lose the race
    /// for the worker on a loaded machine). Short scripts, nearly all of them, never pay.
    pub fn give_way_if_long(&self) {
        if self.running().is_none() {
            return;
        }
        let now = now_ms();
        let threshold = self.threshold_ms.load(Ordering::Acquire);
        let after = HAND_OFF_AFTER_MS.min((threshold / 2).max(1));
        if now.saturating_sub(self.started_ms()) < after {
            return;
        }
        let ticks = self.runtime_ticks.load(Ordering::Acquire);
        if self.ticks_at_last_look.swap(ticks, Ordering::AcqRel) != ticks {
            return;
        }
        let last = self.last_hand_off_ms.load(Ordering::Acquire);
        if last != 0 && now.saturating_sub(last) < HAND_OFF_RETRY_MS {
            return;
        }
        self.last_hand_off_ms.store(now, Ordering::Release);
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
/// How soon a hand-over that did not take is tried again.
pub const HAND_OFF_RETRY_MS: u64 = 10;

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
