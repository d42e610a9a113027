//! The context a command handler runs in: the locked server state, the calling client's
//! session, and the bookkeeping every write must do (dirty counter, WATCH, blocked clients,
//! propagation of its effect to replicas).

use std::sync::Arc;

use bytes::Bytes;

use super::errors;
use crate::config::keyspace_events;
use crate::resp::Reply;
use crate::server::blocking::{BlockRequest, Resume};
use crate::server::{Effect, Server, Session, State};
use crate::store::value::{Hash, List, Set};
use crate::store::{Db, Entry, StrValue, Value, ValueType, ZSet};

pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub session: &'a mut Session,
    pub server: &'a Server,
    /// Wall clock of this command, Unix ms: one value for the whole command so that every
    /// key it touches is judged against the same instant.
    pub now_ms: u64,
    /// Inside EXEC or serving a blocked client: blocking commands must not block.
    pub nested: bool,
    /// Changes made by the current command (Redis's `server.dirty` delta).
    pub changes: u64,
    /// Replaces the command's argv in propagation (effects, not commands).
    pub rewritten: Option<Vec<Bytes>>,
    /// Effects to propagate in addition to (or, with `suppress_own`, instead of) the command.
    pub also: Vec<Effect>,
    /// Do not propagate the command itself even if it changed data.
    pub suppress_own: bool,
    /// Keyspace-event messages for the calling client itself, sent before its reply.
    pub pushes: Vec<Reply>,
    /// Invalidations (CLIENT TRACKING) for the calling client itself, sent after its reply.
    pub after_pushes: Vec<Reply>,
}

/// Result of a typed lookup: `Err` carries the WRONGTYPE reply.
pub type Typed<T> = Result<T, Reply>;

impl<'a> Ctx<'a> {
    pub fn new(
        state: &'a mut State,
        session: &'a mut Session,
        server: &'a Server,
        now_ms: u64,
    ) -> Ctx<'a> {
        Ctx {
            state,
            session,
            server,
            now_ms,
            nested: false,
            changes: 0,
            rewritten: None,
            also: Vec::new(),
            suppress_own: false,
            pushes: Vec::new(),
            after_pushes: Vec::new(),
        }
    }

    pub fn db_index(&self) -> usize {
        self.session.db
    }

    pub fn db(&mut self) -> &mut Db {
        &mut self.state.dbs[self.session.db]
    }

    pub fn db_ref(&self) -> &Db {
        &self.state.dbs[self.session.db]
    }

    // ----- expiry -------------------------------------------------------------------------

    /// Deletes `key` from `db` if its time has passed (on a master), propagating the
    /// deletion as DEL. Returns true if the key is logically expired, whether or not it was
    /// deleted (replicas only hide expired keys).
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if self.state.dbs[db].may_have_field_expiry(key) {
            self.expire_fields_if_needed(db, key);
        }
        if !self.state.dbs[db].may_be_volatile(key) {
            return false;
        }
        let expired = self.state.dbs[db]
            .get(key)
            .is_some_and(|e| e.is_expired(self.now_ms));
        if !expired {
            return false;
        }
        if self.state.deletes_expired() && !self.session.source.from_master() {
            self.state.dbs[db].remove(key);
            self.state.stats.expired_keys += 1;
            self.state.watches.touch(db, key);
            // Pushed straight to the log's queue: the deletion must precede the effect of the
            // command that found the key expired.
            self.state.queue_effect(Effect {
                db,
                argv: vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
            });
            self.notify_in(db, keyspace_events::EXPIRED, "expired", key);
            self.invalidate_tracked(key, None);
        }
        !self.session.source.from_master()
    }

    /// On a master, deletes the due fields of the hash at `key` (propagated as HDEL) before
    /// a command sees it. A replica leaves them for its master's HDEL.
    fn expire_fields_if_needed(&mut self, db: usize, key: &[u8]) {
        if self.state.deletes_expired() && !self.session.source.from_master() {
            crate::expire::delete_due_fields(self.state, db, key, self.now_ms, usize::MAX);
        }
    }

    // ----- lookups ------------------------------------------------------------------------

    /// Read lookup: expires the key if due and counts a keyspace hit or miss.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.session.db;
        if self.expire_if_needed(db, key) {
            self.state.stats.keyspace_misses += 1;
            self.notify(keyspace_events::KEY_MISS, "keymiss", key);
            return None;
        }
        if self
            .state
            .config
            .keyspace_events
            .publishes(keyspace_events::KEY_MISS)
            && self.state.dbs[db].get(key).is_none()
        {
            self.state.stats.keyspace_misses += 1;
            self.notify(keyspace_events::KEY_MISS, "keymiss", key);
            return None;
        }
        match self.state.dbs[db].get(key) {
            Some(entry) => {
                self.state.stats.keyspace_hits += 1;
                Some(entry)
            }
            None => {
                self.state.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Lookup without touching hit/miss counters (EXISTS-like checks inside write commands).
    pub fn lookup(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.session.db;
        if self.expire_if_needed(db, key) {
            return None;
        }
        self.state.dbs[db].get(key)
    }

    /// Write lookup: expires the key if due; the entry's segment is copied first if a
    /// snapshot shares it.
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.session.db;
        if self.expire_if_needed(db, key) {
            return None;
        }
        self.state.dbs[db].get_mut(key)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(key).is_some()
    }

    /// The type of a live key.
    pub fn type_of(&mut self, key: &[u8]) -> Option<ValueType> {
        self.lookup(key).map(|e| e.value.value_type())
    }

    // ----- typed reads --------------------------------------------------------------------

    pub fn read_str(&mut self, key: &[u8]) -> Typed<Option<Bytes>> {
        match self.lookup_read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Str(b)) => Ok(Some(b.to_bytes())),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    /// GET's reply: the string at `key` as a bulk reply, or nil.
    pub fn read_str_reply(&mut self, key: &[u8]) -> Typed<Reply> {
        match self.lookup_read(key).map(|e| &e.value) {
            None => Ok(Reply::Nil),
            Some(Value::Str(StrValue::Shared(b))) => Ok(Reply::bulk_of(b)),
            Some(Value::Str(StrValue::Inline(small))) => Ok(Reply::SmallBulk(*small)),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    pub fn read_list(&mut self, key: &[u8]) -> Typed<Option<Arc<List>>> {
        match self.lookup_read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::List(l)) => Ok(Some(l.clone())),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    pub fn read_hash(&mut self, key: &[u8]) -> Typed<Option<Arc<Hash>>> {
        match self.lookup_read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Hash(h)) => Ok(Some(h.clone())),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    pub fn read_set(&mut self, key: &[u8]) -> Typed<Option<Arc<Set>>> {
        match self.lookup_read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Set(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    pub fn read_zset(&mut self, key: &[u8]) -> Typed<Option<Arc<ZSet>>> {
        match self.lookup_read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::ZSet(z)) => Ok(Some(z.clone())),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    // ----- typed writes -------------------------------------------------------------------

    /// Checks that `key` is absent or of type `expected` (for writes that validate before
    /// changing anything).
    pub fn check_type(&mut self, key: &[u8], expected: ValueType) -> Typed<bool> {
        match self.type_of(key) {
            None => Ok(false),
            Some(t) if t == expected => Ok(true),
            Some(_) => Err(Reply::error(errors::WRONGTYPE)),
        }
    }

    /// Mutable access to the collection at `key`, created empty when absent and `create`.
    /// Shared collections are copied first (copy-on-write against snapshots). The caller
    /// must call [`Ctx::modified`] after changing it and [`Ctx::remove_if_empty`] when it
    /// may have removed the last element.
    pub fn write_list(&mut self, key: &[u8], create: bool) -> Typed<Option<&mut List>> {
        self.write_value(key, create, ValueType::List, Value::new_list)
            .map(|v| {
                v.map(|value| match value {
                    Value::List(l) => Arc::make_mut(l),
                    _ => unreachable!("type checked by write_value"),
                })
            })
    }

    pub fn write_hash(&mut self, key: &[u8], create: bool) -> Typed<Option<&mut Hash>> {
        self.write_value(key, create, ValueType::Hash, Value::new_hash)
            .map(|v| {
                v.map(|value| match value {
                    Value::Hash(h) => Arc::make_mut(h),
                    _ => unreachable!("type checked by write_value"),
                })
            })
    }

    pub fn write_set(&mut self, key: &[u8], create: bool) -> Typed<Option<&mut Set>> {
        self.write_value(key, create, ValueType::Set, Value::new_set)
            .map(|v| {
                v.map(|value| match value {
                    Value::Set(s) => Arc::make_mut(s),
                    _ => unreachable!("type checked by write_value"),
                })
            })
    }

    pub fn write_zset(&mut self, key: &[u8], create: bool) -> Typed<Option<&mut ZSet>> {
        self.write_value(key, create, ValueType::ZSet, Value::new_zset)
            .map(|v| {
                v.map(|value| match value {
                    Value::ZSet(z) => Arc::make_mut(z),
                    _ => unreachable!("type checked by write_value"),
                })
            })
    }

    fn write_value(
        &mut self,
        key: &[u8],
        create: bool,
        expected: ValueType,
        make: fn() -> Value,
    ) -> Typed<Option<&mut Value>> {
        // Two probes at most (type, then the mutable entry): this is every collection
        // write's path.
        let db = self.session.db;
        let expired = self.expire_if_needed(db, key);
        let found = if expired {
            None
        } else {
            self.state.dbs[db].get(key).map(|e| e.value.value_type())
        };
        match found {
            Some(t) if t != expected => return Err(Reply::error(errors::WRONGTYPE)),
            Some(_) => {}
            None if create => {
                self.insert_entry(key, Entry::new(make()));
            }
            None => return Ok(None),
        }
        Ok(self.state.dbs[db].get_mut(key).map(|e| &mut e.value))
    }

    /// Deletes `key` if it holds an empty collection (Redis never keeps empty ones).
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = self
            .db_ref()
            .get(key)
            .is_some_and(|e| e.value.is_empty_collection());
        if empty {
            self.db().remove(key);
        }
        empty
    }

    /// Deletes `key` if the command emptied it, with the `del` event Redis raises after the
    /// command's own.
    pub fn remove_if_emptied(&mut self, key: &[u8]) -> bool {
        let emptied = self.remove_if_empty(key);
        if emptied {
            self.notify(keyspace_events::GENERIC, "del", key);
        }
        emptied
    }

    /// Stores a value, replacing any previous one and its expiry (Redis's `setKey`).
    pub fn set_value(&mut self, key: &[u8], value: Value) {
        self.insert_entry(key, Entry::new(value));
        self.modified(key);
        self.key_ready(key);
    }

    /// Stores a value with an expiry.
    pub fn set_value_with_expiry(&mut self, key: &[u8], value: Value, expire_at_ms: Option<u64>) {
        self.insert_entry(
            key,
            Entry {
                value,
                expire_at_ms,
            },
        );
        self.modified(key);
        self.key_ready(key);
    }

    /// Deletes a live key, raising the `del` keyspace event every command that deletes a
    /// key raises; false if it did not exist (or had expired).
    pub fn delete(&mut self, key: &[u8]) -> bool {
        if !self.exists(key) {
            return false;
        }
        self.db().remove(key);
        self.modified(key);
        // Clients blocked on the key hear of it: a blocked XREADGROUP answers that its group
        // is gone, as in Redis; the others find nothing and wait on.
        self.key_ready(key);
        self.notify(keyspace_events::GENERIC, "del", key);
        true
    }

    // ----- keyspace notifications ---------------------------------------------------------

    /// Raises keyspace event `event` of `class` (`config::keyspace_events`) on `key` of the
    /// current db; nothing when the class is off, which is the common case and costs one
    /// test.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        self.notify_in(self.session.db, class, event, key);
    }

    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        if !self.state.config.keyspace_events.publishes(class) {
            return;
        }
        let own = self
            .state
            .notify_keyspace_event(db, class, event, key, Some(self.session.id));
        self.pushes.extend(own);
    }

    /// Stores an entry, raising `new` when the key did not exist (Redis's `dbAdd`).
    pub fn insert_entry(&mut self, key: &[u8], entry: Entry) {
        let db = self.session.db;
        self.insert_entry_in(db, key, entry);
    }

    pub fn insert_entry_in(&mut self, db: usize, key: &[u8], entry: Entry) {
        let previous = self.state.dbs[db].insert(key, entry);
        if previous.is_none() {
            self.notify_in(db, keyspace_events::NEW, "new", key);
        }
    }

    // ----- bookkeeping after writes -------------------------------------------------------

    /// Records that `key` of the current db changed: dirty counter and WATCH.
    pub fn modified(&mut self, key: &[u8]) {
        self.modified_in(self.session.db, key);
    }

    pub fn modified_in(&mut self, db: usize, key: &[u8]) {
        self.changes += 1;
        self.state.watches.touch(db, key);
        self.invalidate_tracked(key, Some(self.session.id));
    }

    /// Tells the clients tracking `key` that it changed (by `by`, None for an expiry).
    fn invalidate_tracked(&mut self, key: &[u8], by: Option<u64>) {
        if !self.state.tracking.active() {
            return;
        }
        let invalidations = self.state.tracking.invalidate(key, by);
        if !invalidations.is_empty() {
            let own = self
                .state
                .deliver_invalidations(invalidations, Some(self.session.id));
            self.after_pushes.extend(own);
        }
    }

    /// Adds to the dirty counter without a key (FLUSHALL and the like).
    pub fn add_changes(&mut self, n: u64) {
        self.changes += n;
    }

    /// A list or sorted set gained elements: clients blocked on it may be served.
    pub fn key_ready(&mut self, key: &[u8]) {
        self.state.blocking.signal_ready(self.session.db, key);
    }

    pub fn key_ready_in(&mut self, db: usize, key: &[u8]) {
        self.state.blocking.signal_ready(db, key);
    }

    // ----- propagation --------------------------------------------------------------------

    /// Propagate `argv` instead of the command as received (e.g. `SET k v PXAT <abs>`).
    pub fn rewrite(&mut self, argv: Vec<Bytes>) {
        self.rewritten = Some(argv);
    }

    /// Propagate an extra effect in the current db, after the command's own.
    pub fn also_propagate(&mut self, argv: Vec<Bytes>) {
        self.also.push(Effect {
            db: self.session.db,
            argv,
        });
    }

    // ----- blocking -----------------------------------------------------------------------

    /// Called by a blocking command that found nothing to serve: outside MULTI the client
    /// blocks; inside MULTI (or when already being served) it answers the timeout reply.
    pub fn block(
        &mut self,
        keys: Vec<Bytes>,
        deadline_ms: Option<u64>,
        args: &[Bytes],
        resume: Resume,
        timeout_reply: Reply,
    ) -> Reply {
        if self.nested {
            return timeout_reply;
        }
        self.session.pending_block = Some(BlockRequest {
            keys,
            deadline_ms,
            args: args.to_vec(),
            resume,
            timeout_reply: timeout_reply.clone(),
            wait: None,
        });
        timeout_reply
    }
}

/// Converts a user timeout in seconds (float, as BLPOP takes it) to an absolute deadline.
pub fn parse_timeout_seconds(arg: &[u8], now_ms: u64) -> Result<Option<u64>, Reply> {
    let seconds =
        crate::util::num::parse_f64(arg).ok_or_else(|| Reply::error(errors::TIMEOUT_NOT_FLOAT))?;
    let ms = (seconds * 1000.0).ceil();
    // Redis converts the milliseconds to a C long long: infinities and values past its
    // range come out as the most negative number, so they are "negative" there too
    // ("-0.0001" rounds up to 0: wait forever).
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(Reply::error(errors::TIMEOUT_NEGATIVE));
    }
    Ok(if ms == 0.0 {
        None
    } else {
        Some(now_ms.saturating_add(crate::util::num::u64_saturating_f64(ms)))
    })
}
