//! Why a client's next command must wait: CLIENT PAUSE, FAILOVER's pause of writes, and
//! the keys a MIGRATE is moving. Data only; `cmd::dispatch::must_wait` decides per command
//! and the connection waits on [`Pauses::subscribe`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

/// What a pause holds back, ordered from least to most restrictive (Redis's pause types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Commands that write or may replicate (PUBLISH, PFCOUNT, EXEC of such).
    Write,
    /// Every command of a normal client.
    All,
}

/// Who asked for a pause. Each purpose holds at most one pause; the strictest applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PausePurpose {
    ClientCommand,
    Failover,
}

const PURPOSES: usize = 2;

impl PausePurpose {
    fn index(self) -> usize {
        match self {
            PausePurpose::ClientCommand => 0,
            PausePurpose::Failover => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct PauseEvent {
    kind: PauseKind,
    end_ms: u64,
}

pub struct Pauses {
    events: [Option<PauseEvent>; PURPOSES],
    /// Keys a MIGRATE is moving, per (db, key), with how many migrations hold each: writes
    /// to them wait until the target has answered, so the source's DEL never drops a newer
    /// value.
    held_keys: HashMap<(usize, Bytes), u32>,
    /// Bumped whenever a wait may have ended; waiting connections watch it.
    released: tokio::sync::watch::Sender<u64>,
    /// Connections waiting now. INFO `blocked_clients` counts them, as Redis counts its
    /// postponed clients.
    pub postponed: usize,
    /// Whether any pause is in force, readable without the server lock: a replica's link
    /// checks it before applying each batch of its master's stream.
    in_force: Arc<AtomicBool>,
}

impl Default for Pauses {
    fn default() -> Pauses {
        Pauses {
            events: [None; PURPOSES],
            held_keys: HashMap::new(),
            released: tokio::sync::watch::Sender::new(0),
            postponed: 0,
            in_force: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Pauses {
    /// Pauses until `end_ms` (Unix ms). A purpose that already pauses keeps the stricter
    /// kind and the later end, as Redis's `pauseClients` does.
    pub fn pause(&mut self, purpose: PausePurpose, kind: PauseKind, end_ms: u64) {
        let slot = &mut self.events[purpose.index()];
        *slot = Some(match *slot {
            Some(event) => PauseEvent {
                kind: event.kind.max(kind),
                end_ms: event.end_ms.max(end_ms),
            },
            None => PauseEvent { kind, end_ms },
        });
        self.in_force.store(true, Ordering::Relaxed);
    }

    pub fn unpause(&mut self, purpose: PausePurpose) {
        if self.events[purpose.index()].take().is_some() {
            self.release();
        }
    }

    /// Drops pauses whose end has passed; called by the cron and before each check.
    pub fn refresh(&mut self, now_ms: u64) {
        let mut ended = false;
        for slot in &mut self.events {
            if slot.is_some_and(|event| event.end_ms < now_ms) {
                *slot = None;
                ended = true;
            }
        }
        if ended {
            self.release();
        }
    }

    /// No pause and no held key: no request waits (one test on every request's path).
    #[inline]
    pub fn idle(&self) -> bool {
        self.events.iter().all(Option::is_none) && self.held_keys.is_empty()
    }

    /// The strictest pause in force (as of the last refresh).
    pub fn active(&self) -> Option<PauseKind> {
        self.events.iter().flatten().map(|event| event.kind).max()
    }

    /// When the earliest pause ends, for a waiter's timer.
    pub fn next_end_ms(&self) -> Option<u64> {
        self.events.iter().flatten().map(|event| event.end_ms).min()
    }

    pub fn hold_keys(&mut self, db: usize, keys: &[Bytes]) {
        for key in keys {
            *self.held_keys.entry((db, key.clone())).or_insert(0) += 1;
        }
    }

    pub fn release_keys(&mut self, db: usize, keys: &[Bytes]) {
        for key in keys {
            let entry = (db, key.clone());
            if let Some(count) = self.held_keys.get_mut(&entry) {
                *count -= 1;
                if *count == 0 {
                    self.held_keys.remove(&entry);
                }
            }
        }
        self.release();
    }

    pub fn holds_any_key(&self) -> bool {
        !self.held_keys.is_empty()
    }

    pub fn is_held(&self, db: usize, key: &Bytes) -> bool {
        !self.held_keys.is_empty() && self.held_keys.contains_key(&(db, key.clone()))
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.released.subscribe()
    }

    fn release(&self) {
        self.in_force
            .store(self.active().is_some(), Ordering::Relaxed);
        self.released.send_modify(|generation| *generation += 1);
    }

    /// A handle on whether any pause is in force, for readers outside the lock.
    pub fn in_force(&self) -> Arc<AtomicBool> {
        self.in_force.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_pause_applies_until_it_ends() {
        let mut pauses = Pauses::default();
        assert_eq!(pauses.active(), None);
        pauses.pause(PausePurpose::ClientCommand, PauseKind::Write, 1_000);
        pauses.pause(PausePurpose::Failover, PauseKind::All, 500);
        assert_eq!(pauses.active(), Some(PauseKind::All));
        assert_eq!(pauses.next_end_ms(), Some(500));
        pauses.refresh(501);
        assert_eq!(pauses.active(), Some(PauseKind::Write));
        pauses.refresh(1_001);
        assert_eq!(pauses.active(), None);
    }

    #[test]
    fn a_purpose_keeps_its_stricter_kind_and_later_end() {
        let mut pauses = Pauses::default();
        pauses.pause(PausePurpose::ClientCommand, PauseKind::All, 1_000);
        pauses.pause(PausePurpose::ClientCommand, PauseKind::Write, 2_000);
        assert_eq!(pauses.active(), Some(PauseKind::All));
        assert_eq!(pauses.next_end_ms(), Some(2_000));
        let released = pauses.subscribe();
        pauses.unpause(PausePurpose::ClientCommand);
        assert_eq!(pauses.active(), None);
        assert!(released.has_changed().unwrap_or(false));
    }

    #[test]
    fn held_keys_count_their_holders() {
        let mut pauses = Pauses::default();
        let key = Bytes::from_static(b"k");
        pauses.hold_keys(0, std::slice::from_ref(&key));
        pauses.hold_keys(0, std::slice::from_ref(&key));
        pauses.release_keys(0, std::slice::from_ref(&key));
        assert!(pauses.is_held(0, &key));
        assert!(!pauses.is_held(1, &key));
        pauses.release_keys(0, std::slice::from_ref(&key));
        assert!(!pauses.holds_any_key());
    }
}
