//! The hot path between a script and the server, on Lua's C API: `redis.call` and
//! `redis.pcall` as plain C functions, the command's arguments read straight off the Lua
//! stack and its reply pushed straight back, and a run's KEYS and ARGV built the same way.
//!
//! Why not mlua's safe API here: it wraps every call into Lua in a protected call that
//! allocates two C closures. A one-SET script made about twenty such calls per run, and
//! allocating and collecting those closures cost more than the command itself.
//!
//! # Safety discipline
//!
//! A Lua API call that allocates (a string, a table, stack space) may raise an error: out
//! of memory, or a failing `__gc` finalizer run by the collector. Lua 5.1 raises with
//! `longjmp`, which skips the Rust frames in between without running their destructors;
//! skipping a frame is sound only when it owns nothing that needs dropping (a "plain old
//! frame"). So:
//! - Reading arguments and running the command (the Rust work that allocates) finishes
//!   before the first call that can raise. Those reads (`lua_type`, `lua_tolstring` of a
//!   string, `lua_tonumber`) never raise.
//! - Everything pushed afterwards is owned by the [`RunContext`], which outlives the call;
//!   the frames that push hold only references and `Copy` values.
//! - A panic in the command is caught before it could unwind into Lua's C frames.

use std::ffi::{c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use bytes::{Bytes, BytesMut};
use mlua::Lua;
use mlua::ffi::{self, lua_State};

use super::convert::{c_long_long, error_parts, parse_bulk, status_text};
use super::engine::Host;
use crate::resp::{Protocol, Reply};

/// The deepest reply nesting pushed; deeper is refused rather than overflowing the stack
/// (no command nests anywhere near this).
const REPLY_NESTING_MAX: usize = 1000;

/// The deepest table nesting a script's result may have: deeper (or cyclic) tables are
/// answered with Redis's stack-limit error instead of exhausting the stack.
const RESULT_NESTING_MAX: usize = 1000;

/// Strings kept in the VM's registry for as long as it lives, in the order of
/// [`Anchored`]: the field names replies and results use, and the commonest values. Pushing
/// an anchored string is an array read; pushing any other string hashes it and may
/// allocate.
const ANCHORED: [&[u8]; 12] = [
    b"err",
    b"ok",
    b"double",
    b"big_number",
    b"verbatim_string",
    b"map",
    b"set",
    b"format",
    b"string",
    b"ignore_error_stats_update",
    b"txt",
    b"OK",
];

/// An anchored string (see [`ANCHORED`]).
#[derive(Clone, Copy)]
enum Anchored {
    Err,
    Ok,
    Double,
    BigNumber,
    VerbatimString,
    Map,
    Set,
    Format,
    String,
    IgnoreErrorStatsUpdate,
    Txt,
    OkText,
}

/// Registry references of the [`ANCHORED`] strings.
type AnchoredRefs = [c_int; ANCHORED.len()];

/// Pushes an anchored string: no allocation, no error.
///
/// # Safety
/// `state` is the VM whose registry holds `refs`, with a free stack slot.
unsafe fn push_anchored(state: *mut lua_State, refs: &AnchoredRefs, word: Anchored) {
    // SAFETY: per the contract.
    unsafe { ffi::lua_rawgeti_(state, ffi::LUA_REGISTRYINDEX, refs[word as usize]) }
}

/// What a running script's native functions share: the host its commands go to, and what
/// they push while they push it.
pub struct RunContext {
    /// The running script's host; `None` between runs.
    host: Option<NonNull<dyn Host>>,
    /// The RESP version the script's client speaks (`redis.setresp`).
    protocol: Protocol,
    /// The last command's reply, held here while it is pushed.
    reply: Reply,
    /// The text of an error being pushed.
    error: String,
    /// Scratch space for text assembled before it is pushed.
    scratch: BytesMut,
    /// Registry references of the [`ANCHORED`] strings.
    anchored_refs: AnchoredRefs,
}

/// The owner of a [`RunContext`]: the engine, which declares it after everything holding
/// the VM so that it is freed last.
pub struct OwnedContext(ContextPtr);

impl Default for OwnedContext {
    fn default() -> OwnedContext {
        let context = Box::new(RunContext {
            host: None,
            protocol: Protocol::Resp2,
            reply: Reply::Nil,
            error: String::new(),
            scratch: BytesMut::new(),
            anchored_refs: [0; ANCHORED.len()],
        });
        OwnedContext(ContextPtr(NonNull::from(Box::leak(context))))
    }
}

impl OwnedContext {
    pub fn ptr(&self) -> ContextPtr {
        self.0
    }
}

impl Drop for OwnedContext {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` and only this owner frees it.
        drop(unsafe { Box::from_raw(self.0.0.as_ptr()) });
    }
}

/// A handle on a [`RunContext`], which the Lua closures hold too (as light userdata).
#[derive(Clone, Copy)]
pub struct ContextPtr(NonNull<RunContext>);

// SAFETY: the context is only touched by the thread running the VM, which holds the
// engine (and so the VM) exclusively for the run; the pointer moves between threads only
// with the engine.
unsafe impl Send for ContextPtr {}
// SAFETY: as above: shared only together with the engine, used under its lock.
unsafe impl Sync for ContextPtr {}

impl ContextPtr {
    /// Anchors the [`ANCHORED`] strings in the registry of the VM that will use this
    /// context.
    ///
    /// # Safety
    /// `state` is that VM, inside a protected call, with two free stack slots; no run is
    /// under way.
    pub unsafe fn anchor_strings(self, state: *mut lua_State) {
        for (slot, name) in ANCHORED.iter().enumerate() {
            // SAFETY: per the contract; the context is not otherwise referenced.
            unsafe {
                push_bytes(state, name);
                let reference = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
                (*self.0.as_ptr()).anchored_refs[slot] = reference;
            }
        }
    }

    /// The pointer the native closures carry as their upvalue.
    pub fn as_light_userdata(self) -> *mut c_void {
        self.0.as_ptr().cast()
    }

    /// Binds `host` for one run, with the script's client in RESP2; unbound when the
    /// returned guard drops (also on unwinding).
    pub fn bind<'h>(self, host: &'h mut dyn Host) -> Bound<'h> {
        let host: NonNull<dyn Host + 'h> = NonNull::from(host);
        // SAFETY: only the lifetime is erased; the guard clears the pointer before `'h`
        // ends, and nothing reads it after.
        let host: NonNull<dyn Host + 'static> = unsafe { std::mem::transmute(host) };
        // SAFETY: no other reference to the context is live between native calls.
        let context = unsafe { &mut *self.0.as_ptr() };
        context.host = Some(host);
        context.protocol = Protocol::Resp2;
        Bound {
            context: self,
            _host: std::marker::PhantomData,
        }
    }

    /// The running script's host and protocol, for a native function that mlua calls:
    /// `None` outside a run.
    ///
    /// # Safety
    /// No other reference to the context may be live while the result is used.
    pub unsafe fn running<'a>(self) -> Option<(&'a mut dyn Host, &'a mut Protocol)> {
        // SAFETY: per the caller's promise.
        let context = unsafe { &mut *self.0.as_ptr() };
        let mut host = context.host?;
        // SAFETY: the host is bound for the run this call is part of.
        Some((unsafe { host.as_mut() }, &mut context.protocol))
    }
}

/// A host bound to the context for one run.
pub struct Bound<'h> {
    context: ContextPtr,
    _host: std::marker::PhantomData<&'h mut dyn Host>,
}

impl Bound<'_> {
    /// The protocol the script's client ended in (it decides how a boolean result is
    /// answered).
    pub fn protocol(&self) -> Protocol {
        // SAFETY: called between native calls; nothing else refers to the context.
        unsafe { (*self.context.0.as_ptr()).protocol }
    }
}

impl Drop for Bound<'_> {
    fn drop(&mut self) {
        // SAFETY: the run is over; nothing else refers to the context.
        let context = unsafe { &mut *self.context.0.as_ptr() };
        context.host = None;
        context.reply = Reply::Nil;
        context.error.clear();
    }
}

/// `redis.call`: runs a command; its error is raised.
///
/// # Safety
/// Called by Lua only, as a C closure whose first upvalue is the [`ContextPtr`].
pub unsafe extern "C-unwind" fn redis_call(state: *mut lua_State) -> c_int {
    // SAFETY: per this function's contract.
    unsafe { command(state, true) }
}

/// `redis.pcall`: runs a command; its error is returned as an error table.
///
/// # Safety
/// As [`redis_call`].
pub unsafe extern "C-unwind" fn redis_pcall(state: *mut lua_State) -> c_int {
    // SAFETY: per this function's contract.
    unsafe { command(state, false) }
}

/// How a command call went; what it produced waits in the context.
#[derive(Clone, Copy)]
enum Called {
    /// The reply is in `context.reply`.
    Replied,
    /// Refused before it ran; the text (`-CODE text` or bare) is in `context.error`.
    Refused,
    /// The arguments could not be a command.
    BadArguments(&'static str),
    /// Called outside a run.
    Outside,
}

unsafe fn command(state: *mut lua_State, raises: bool) -> c_int {
    // SAFETY: the upvalue is the context pointer (per the callers' contract).
    let context =
        unsafe { ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) }.cast::<RunContext>();
    // SAFETY: the context lives as long as the engine, whose VM is running us; nothing else
    // refers to it during a native call.
    let context = unsafe { &mut *context };
    // Everything that allocates on the Rust side happens in here; from its return on, this
    // frame holds only references and `Copy` values.
    // SAFETY: `state` is the running Lua state; once read, the arguments are dropped from
    // the stack (up to 7999 of them may fill it) to make room for the reply.
    let called = unsafe {
        let called = call_host(state, context);
        ffi::lua_settop(state, 0);
        called
    };
    let RunContext {
        protocol,
        reply,
        error,
        scratch,
        anchored_refs,
        ..
    } = context;
    let mut pusher = Pusher {
        state,
        refs: anchored_refs,
        scratch,
        protocol: *protocol,
    };
    // SAFETY: pushing onto the running state; see the module's discipline.
    unsafe {
        match called {
            Called::Replied => {
                if let (true, Reply::Error(text)) = (raises, &*reply) {
                    pusher.error_table(text, true, true);
                    ffi::lua_error(state);
                }
                pusher.reply(reply, 0);
            }
            Called::Refused => {
                pusher.error_table(error, error.starts_with('-'), true);
                if raises {
                    ffi::lua_error(state);
                }
            }
            Called::BadArguments(text) => {
                pusher.error_table(text, false, false);
                if raises {
                    ffi::lua_error(state);
                }
            }
            Called::Outside => {
                pusher.error_table(
                    "redis.call/pcall can only be called inside a script invocation",
                    false,
                    false,
                );
                ffi::lua_error(state);
            }
        }
    }
    1
}

/// Reads the command off the stack and runs it. Makes no Lua call that can raise.
unsafe fn call_host(state: *mut lua_State, context: &mut RunContext) -> Called {
    // SAFETY: `state` is the running Lua state.
    let argv = match unsafe { read_argv(state) } {
        Ok(argv) => argv,
        Err(text) => return Called::BadArguments(text),
    };
    let Some(mut host) = context.host else {
        return Called::Outside;
    };
    let protocol = context.protocol;
    // SAFETY: the host is bound for the run this call is part of, and not otherwise
    // borrowed while the script runs.
    let host = unsafe { host.as_mut() };
    match catch_unwind(AssertUnwindSafe(|| host.call(argv, protocol))) {
        Ok(Ok(reply)) => {
            context.reply = reply;
            Called::Replied
        }
        Ok(Err(text)) => {
            context.error = text;
            Called::Refused
        }
        Err(_) => {
            tracing::error!("a command called from a script panicked");
            context.error = "-ERR internal error running the command".to_string();
            Called::Refused
        }
    }
}

/// The command's arguments: strings as they are, numbers as `%.17g` (Lua's own
/// conversion would lose precision), anything else refused. Makes no Lua call that can
/// raise.
unsafe fn read_argv(state: *mut lua_State) -> Result<Vec<Bytes>, &'static str> {
    // SAFETY (whole function): reading the running state's stack within its top.
    let argc = unsafe { ffi::lua_gettop(state) };
    if argc <= 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(usize::try_from(argc).unwrap_or(0));
    for index in 1..=argc {
        match unsafe { ffi::lua_type(state, index) } {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let text = unsafe { ffi::lua_tolstring(state, index, &mut len) };
                // SAFETY: a string value's bytes, alive while it is on the stack.
                let text = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
                argv.push(Bytes::copy_from_slice(text));
            }
            ffi::LUA_TNUMBER => {
                let n = unsafe { ffi::lua_tonumber(state, index) };
                argv.push(number_argument(n));
            }
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}

/// `%.17g` of a number argument, with a shortcut for the common whole numbers.
pub fn number_argument(n: f64) -> Bytes {
    // 1e17: below it every whole double prints as its integer digits under `%.17g`.
    const WHOLE_DIGITS_MAX: f64 = 1e17;
    // Negative zero prints as "-0".
    if n.fract() == 0.0 && n.abs() < WHOLE_DIGITS_MAX && !(n == 0.0 && n.is_sign_negative()) {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a whole number below 1e17 converts exactly"
        )]
        let whole = n as i64;
        return Bytes::copy_from_slice(itoa::Buffer::new().format(whole).as_bytes());
    }
    Bytes::from(crate::resp::float::format_g17(n))
}

/// Pushes `bytes` as a Lua string.
///
/// # Safety
/// `state` is a Lua state with a free stack slot; see the module's discipline.
pub unsafe fn push_bytes(state: *mut lua_State, bytes: &[u8]) {
    // SAFETY: the caller's state; Lua copies the bytes.
    unsafe { ffi::lua_pushlstring_(state, bytes.as_ptr().cast(), bytes.len()) }
}

fn lua_index(i: usize) -> c_int {
    c_int::try_from(i).unwrap_or(c_int::MAX)
}

/// Pushes a command's reply (or an error) as `redis.call` returns it. Every function here
/// may raise (out of memory) and so holds only references and `Copy` values.
struct Pusher<'c> {
    state: *mut lua_State,
    refs: &'c AnchoredRefs,
    /// Text assembled before it is pushed.
    scratch: &'c mut BytesMut,
    /// The RESP version the script's client speaks.
    protocol: Protocol,
}

impl Pusher<'_> {
    /// Sets `table[field] = <the value on top>` for the table just below it, popping the
    /// value.
    unsafe fn set_field_below(&mut self, field: Anchored) {
        // SAFETY: the table is at -2 and the value at -1.
        unsafe {
            push_anchored(self.state, self.refs, field);
            ffi::lua_insert(self.state, -2);
            ffi::lua_rawset(self.state, -3);
        }
    }

    /// Replaces the value on top with `{ [field] = value }`.
    unsafe fn wrap_in_field(&mut self, field: Anchored) {
        // SAFETY: the value is at -1.
        unsafe {
            ffi::lua_createtable(self.state, 0, 1);
            ffi::lua_insert(self.state, -2);
            self.set_field_below(field);
        }
    }

    /// Pushes `{ok = text}`.
    unsafe fn status(&mut self, text: &[u8]) {
        // SAFETY: see the module's discipline.
        unsafe {
            if text == b"OK" {
                push_anchored(self.state, self.refs, Anchored::OkText);
            } else {
                push_bytes(self.state, text);
            }
            self.wrap_in_field(Anchored::Ok);
        }
    }

    /// Pushes Redis's `{err = "CODE message"}` table for an error's text: `text` starts
    /// with the code when `has_code` (after an optional `-`), else it gets `ERR`. `counted`
    /// marks it as already counted in the error statistics (the command that produced it
    /// counted it).
    unsafe fn error_table(&mut self, text: &str, has_code: bool, counted: bool) {
        let (code, message) = if has_code {
            error_parts(text.strip_prefix('-').unwrap_or(text))
        } else {
            ("ERR", text.trim_end_matches(['\r', '\n']))
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(code.as_bytes());
        self.scratch.extend_from_slice(b" ");
        self.scratch.extend_from_slice(message.as_bytes());
        // SAFETY: see the module's discipline.
        unsafe {
            ffi::lua_createtable(self.state, 0, 2);
            push_bytes(self.state, self.scratch);
            self.set_field_below(Anchored::Err);
            if counted {
                ffi::lua_pushboolean(self.state, 1);
                self.set_field_below(Anchored::IgnoreErrorStatsUpdate);
            }
        }
    }

    /// Pushes a command's reply as `redis.call` returns it: what Redis reads back from the
    /// RESP it would have sent the script's client.
    unsafe fn reply(&mut self, reply: &Reply, depth: usize) {
        let state = self.state;
        let resp3 = self.protocol == Protocol::Resp3;
        // SAFETY (whole function): see the module's discipline.
        unsafe {
            if depth > REPLY_NESTING_MAX || ffi::lua_checkstack(state, 4) == 0 {
                push_bytes(state, b"reached lua stack limit");
                ffi::lua_error(state);
            }
            match reply {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "Lua 5.1 numbers are doubles, as in Redis"
                )]
                Reply::Integer(i) => ffi::lua_pushnumber(state, *i as f64),
                Reply::Bulk(b) => push_bytes(state, b),
                Reply::SmallBulk(b) => push_bytes(state, b.as_bytes()),
                Reply::Simple(s) => self.status(s.as_bytes()),
                Reply::Error(text) => self.error_table(text, true, true),
                // RESP3's null is Lua's nil; RESP2's null bulk and null array are false.
                Reply::Nil | Reply::NilArray if resp3 => ffi::lua_pushnil(state),
                Reply::Nil | Reply::NilArray => ffi::lua_pushboolean(state, 0),
                Reply::Array(items) | Reply::Push(items) => self.array(items, depth),
                Reply::Set(items) if resp3 => {
                    ffi::lua_createtable(state, 0, lua_index(items.len()));
                    for item in items {
                        self.reply(item, depth + 1);
                        ffi::lua_pushboolean(state, 1);
                        ffi::lua_rawset(state, -3);
                    }
                    self.wrap_in_field(Anchored::Set);
                }
                Reply::Set(items) => self.array(items, depth),
                Reply::Map(pairs) if resp3 => {
                    ffi::lua_createtable(state, 0, lua_index(pairs.len()));
                    for (key, value) in pairs {
                        self.reply(key, depth + 1);
                        self.reply(value, depth + 1);
                        ffi::lua_rawset(state, -3);
                    }
                    self.wrap_in_field(Anchored::Map);
                }
                Reply::Map(pairs) => {
                    ffi::lua_createtable(state, lua_index(pairs.len().saturating_mul(2)), 0);
                    for (i, (key, value)) in pairs.iter().enumerate() {
                        self.reply(key, depth + 1);
                        ffi::lua_rawseti_(state, -2, lua_index(2 * i + 1));
                        self.reply(value, depth + 1);
                        ffi::lua_rawseti_(state, -2, lua_index(2 * i + 2));
                    }
                }
                Reply::Double(d) if resp3 => {
                    ffi::lua_pushnumber(state, *d);
                    self.wrap_in_field(Anchored::Double);
                }
                Reply::DoubleText(text) if resp3 => {
                    ffi::lua_pushnumber(state, crate::util::num::parse_f64(text).unwrap_or(0.0));
                    self.wrap_in_field(Anchored::Double);
                }
                Reply::Bool(b) if resp3 => ffi::lua_pushboolean(state, c_int::from(*b)),
                Reply::Bool(b) => ffi::lua_pushnumber(state, if *b { 1.0 } else { 0.0 }),
                Reply::Verbatim(text) if resp3 => {
                    ffi::lua_createtable(state, 0, 2);
                    push_bytes(state, text);
                    self.set_field_below(Anchored::String);
                    push_anchored(state, self.refs, Anchored::Txt);
                    self.set_field_below(Anchored::Format);
                    self.wrap_in_field(Anchored::VerbatimString);
                }
                // What a RESP2 client reads for the rest: a bulk string of the same text.
                Reply::Double(_) | Reply::DoubleText(_) | Reply::Verbatim(_) => {
                    self.scratch.clear();
                    reply.encode(Protocol::Resp2, self.scratch);
                    match parse_bulk(self.scratch) {
                        Some(text) => push_bytes(state, text),
                        None => ffi::lua_pushboolean(state, 0),
                    }
                }
                // A command answering several times (pushes beside its reply): its reply is
                // last.
                Reply::Sequence(items) => {
                    match items.iter().rev().find(|r| !matches!(r, Reply::Push(_))) {
                        Some(last) => self.reply(last, depth),
                        None => ffi::lua_pushnil(state),
                    }
                }
                Reply::Raw(bytes) => self.raw(bytes),
            }
        }
    }

    unsafe fn array(&mut self, items: &[Reply], depth: usize) {
        // SAFETY: see the module's discipline.
        unsafe {
            ffi::lua_createtable(self.state, lua_index(items.len()), 0);
            for (i, item) in items.iter().enumerate() {
                self.reply(item, depth + 1);
                ffi::lua_rawseti_(self.state, -2, lua_index(i + 1));
            }
        }
    }

    /// The pre-encoded replies (`+OK`, `+PONG`, ...): simple lines of one type.
    unsafe fn raw(&mut self, bytes: &[u8]) {
        let line = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        // SAFETY: see the module's discipline.
        unsafe {
            match line.split_first() {
                Some((b'+', text)) => self.status(text),
                Some((b'-', text)) => {
                    let text = std::str::from_utf8(text).unwrap_or("ERR");
                    self.error_table(text, true, false);
                }
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "Lua 5.1 numbers are doubles, as in Redis"
                )]
                Some((b':', text)) => ffi::lua_pushnumber(
                    self.state,
                    crate::util::num::parse_i64(text).unwrap_or(0) as f64,
                ),
                _ => ffi::lua_pushnil(self.state),
            }
        }
    }
}

/// Pushes a table of `items` as Lua strings, `{items[1], items[2], ...}` (KEYS, ARGV).
///
/// # Safety
/// `state` is a Lua state inside a protected call, with two free stack slots.
pub unsafe fn push_string_array(state: *mut lua_State, items: &[Bytes]) {
    // SAFETY: per the contract; see the module's discipline.
    unsafe {
        ffi::lua_createtable(state, lua_index(items.len()), 0);
        for (i, item) in items.iter().enumerate() {
            push_bytes(state, item);
            ffi::lua_rawseti_(state, -2, lua_index(i + 1));
        }
    }
}

/// What a script returned (the value at `index`) as the reply to its caller, and whether it
/// is an error already counted in the error statistics (an error table a command produced,
/// returned by `redis.pcall`). `protocol` is the script client's (it decides how booleans
/// are answered).
///
/// # Safety
/// `state` is the VM of `lua` and `context`, inside a protected call (so with
/// [`ffi::LUA_MINSTACK`] free slots) and with at most [`RESULT_SLOTS_USED_MAX`] of them used;
/// the run is over. No Lua call made here can fail: values are only read, the field names
/// are anchored, and the stack is grown (past what the protected call guarantees) with
/// the VM's memory limit lifted, the only way growing it could fail.
pub unsafe fn script_result(
    lua: &Lua,
    state: *mut lua_State,
    index: c_int,
    protocol: Protocol,
    context: ContextPtr,
) -> (Reply, bool) {
    // SAFETY: per the contract; only the field references are read.
    let refs = unsafe { (*context.0.as_ptr()).anchored_refs };
    let reader = ResultReader {
        lua,
        state,
        refs,
        protocol,
    };
    // SAFETY: per the contract.
    unsafe {
        let index = ffi::lua_absindex(state, index);
        let reply = reader.value(index, 0);
        let counted = matches!(reply, Reply::Error(_)) && reader.marked_counted(index);
        (reply, counted)
    }
}

/// Slots the caller of [`script_result`] may have used.
pub const RESULT_SLOTS_USED_MAX: c_int = 4;

/// Slots one level of a result table takes while it is read: the table, a key and a
/// value (or a field looked up and its key).
const SLOTS_PER_LEVEL: c_int = 3;

/// Levels read without growing the stack: what fits in the slots a protected call
/// guarantees.
const LEVELS_WITHOUT_GROWTH: u8 = 4;
const _: () = assert!(
    RESULT_SLOTS_USED_MAX + SLOTS_PER_LEVEL * (LEVELS_WITHOUT_GROWTH as c_int + 1)
        <= ffi::LUA_MINSTACK
);

struct ResultReader<'l> {
    lua: &'l Lua,
    state: *mut lua_State,
    refs: AnchoredRefs,
    protocol: Protocol,
}

impl ResultReader<'_> {
    /// The reply for the value at absolute `index`.
    unsafe fn value(&self, index: c_int, depth: usize) -> Reply {
        if depth > RESULT_NESTING_MAX {
            return Reply::error("ERR reached lua stack limit");
        }
        let state = self.state;
        // SAFETY (whole function): reads within the stack; see `script_result`.
        unsafe {
            match ffi::lua_type(state, index) {
                ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(self.string(index))),
                ffi::LUA_TBOOLEAN => {
                    let b = ffi::lua_toboolean(state, index) != 0;
                    match (self.protocol, b) {
                        (Protocol::Resp3, _) => Reply::Bool(b),
                        (_, true) => Reply::Integer(1),
                        (_, false) => Reply::Nil,
                    }
                }
                ffi::LUA_TNUMBER => Reply::Integer(c_long_long(ffi::lua_tonumber(state, index))),
                ffi::LUA_TTABLE => self.table(index, depth),
                _ => Reply::Nil,
            }
        }
    }

    /// Makes room for one more level of nesting below `depth`; false when the stack cannot
    /// grow further.
    fn room_for_level(&self, depth: usize) -> bool {
        if depth < usize::from(LEVELS_WITHOUT_GROWTH) {
            return true;
        }
        let limit = self.lua.set_memory_limit(0).ok();
        // SAFETY: with the memory limit lifted, growing the stack cannot raise: mlua's
        // allocator fails only at the limit (it aborts if the system has no memory).
        let grown = unsafe { ffi::lua_checkstack(self.state, SLOTS_PER_LEVEL + 1) } != 0;
        if let Some(limit) = limit {
            let _ = self.lua.set_memory_limit(limit);
        }
        grown
    }

    /// Whether the value at `index` is a table marked `ignore_error_stats_update`.
    unsafe fn marked_counted(&self, index: c_int) -> bool {
        // SAFETY: reads within the stack; the value looked up is popped.
        unsafe {
            if ffi::lua_type(self.state, index) != ffi::LUA_TTABLE {
                return false;
            }
            let marked = self.push_field(index, Anchored::IgnoreErrorStatsUpdate)
                == ffi::LUA_TBOOLEAN
                && ffi::lua_toboolean(self.state, -1) != 0;
            ffi::lua_settop(self.state, -2);
            marked
        }
    }

    /// The bytes of the string at `index` (valid while it stays on the stack).
    unsafe fn string<'s>(&self, index: c_int) -> &'s [u8] {
        let mut len = 0usize;
        // SAFETY: the value is a string: no conversion, no allocation.
        unsafe {
            let text = ffi::lua_tolstring(self.state, index, &mut len);
            std::slice::from_raw_parts(text.cast::<u8>(), len)
        }
    }

    /// Pushes `table[field]` and returns its type.
    unsafe fn push_field(&self, table: c_int, field: Anchored) -> c_int {
        // SAFETY: the caller checked for two free slots; the key is anchored, so pushing it
        // allocates nothing.
        unsafe {
            push_anchored(self.state, &self.refs, field);
            ffi::lua_rawget_(self.state, table);
            ffi::lua_type(self.state, -1)
        }
    }

    /// The string `table[field]`, if it is one: popped, its bytes copied out by `read`.
    unsafe fn string_field<T>(
        &self,
        table: c_int,
        field: Anchored,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Option<T> {
        // SAFETY: as `push_field`; the value is popped after it was read.
        unsafe {
            let found =
                (self.push_field(table, field) == ffi::LUA_TSTRING).then(|| read(self.string(-1)));
            ffi::lua_settop(self.state, -2);
            found
        }
    }

    unsafe fn table(&self, table: c_int, depth: usize) -> Reply {
        let state = self.state;
        // SAFETY (whole function): reads within the stack, which is grown first; see
        // `script_result`.
        unsafe {
            if !self.room_for_level(depth) {
                return Reply::error("ERR reached lua stack limit");
            }
            if let Some(err) = self.string_field(table, Anchored::Err, |e| {
                String::from_utf8_lossy(e).into_owned()
            }) {
                return Reply::Error(err.into());
            }
            if let Some(ok) = self.string_field(table, Anchored::Ok, status_text) {
                return Reply::Simple(ok.into());
            }
            if self.push_field(table, Anchored::Double) == ffi::LUA_TNUMBER {
                let d = ffi::lua_tonumber(state, -1);
                ffi::lua_settop(state, -2);
                return Reply::Double(d);
            }
            ffi::lua_settop(state, -2);
            if let Some(big) = self.string_field(table, Anchored::BigNumber, status_text) {
                return Reply::Bulk(Bytes::from(big));
            }
            if self.push_field(table, Anchored::VerbatimString) == ffi::LUA_TTABLE {
                let verbatim = ffi::lua_gettop(state);
                let format = self.string_field(verbatim, Anchored::Format, |_| ());
                let text = self.string_field(verbatim, Anchored::String, Bytes::copy_from_slice);
                ffi::lua_settop(state, -2);
                if let (Some(()), Some(text)) = (format, text) {
                    return Reply::Verbatim(text);
                }
            } else {
                ffi::lua_settop(state, -2);
            }
            if self.push_field(table, Anchored::Map) == ffi::LUA_TTABLE {
                let map = ffi::lua_gettop(state);
                let mut pairs = Vec::new();
                ffi::lua_pushnil(state);
                while ffi::lua_next(state, map) != 0 {
                    let key = self.value(map + 1, depth + 1);
                    let value = self.value(map + 2, depth + 1);
                    pairs.push((key, value));
                    ffi::lua_settop(state, map + 1);
                }
                ffi::lua_settop(state, map - 1);
                return Reply::Map(pairs);
            }
            ffi::lua_settop(state, -2);
            if self.push_field(table, Anchored::Set) == ffi::LUA_TTABLE {
                let set = ffi::lua_gettop(state);
                let mut items = Vec::new();
                ffi::lua_pushnil(state);
                while ffi::lua_next(state, set) != 0 {
                    items.push(self.value(set + 1, depth + 1));
                    ffi::lua_settop(state, set + 1);
                }
                ffi::lua_settop(state, set - 1);
                return Reply::Set(items);
            }
            ffi::lua_settop(state, -2);
            // An array: elements 1, 2, ... up to the first nil.
            let mut items = Vec::new();
            for i in 1.. {
                ffi::lua_rawgeti_(state, table, i);
                if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
                    ffi::lua_settop(state, -2);
                    break;
                }
                let reply = self.value(ffi::lua_gettop(state), depth + 1);
                ffi::lua_settop(state, -2);
                if depth + 1 > RESULT_NESTING_MAX {
                    return reply;
                }
                items.push(reply);
            }
            Reply::Array(items)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::script::engine::{Run, ScriptEngine};
    use crate::script::watch::ScriptWatch;

    /// A host that answers every command with a reply chosen by the command's name.
    struct FakeHost {
        calls: Vec<Vec<Bytes>>,
    }

    impl Host for FakeHost {
        fn call(&mut self, argv: Vec<Bytes>, _protocol: Protocol) -> Result<Reply, String> {
            let reply = match &argv[0][..] {
                b"nested" => {
                    let mut reply = Reply::Integer(7);
                    for _ in 0..12 {
                        reply = Reply::Array(vec![reply]);
                    }
                    reply
                }
                b"mixed" => Reply::Array(vec![
                    Reply::Integer(3),
                    Reply::bulk_str("x"),
                    Reply::Nil,
                    Reply::Bool(true),
                    Reply::simple("FINE"),
                    Reply::Map(vec![(Reply::bulk_str("k"), Reply::Double(1.5))]),
                ]),
                b"fail" => Reply::error("WRONGTYPE Operation against a key"),
                b"refuse" => return Err("This Redis command is not allowed from script".into()),
                _ => Reply::Integer(i64::try_from(argv.len()).unwrap_or(0)),
            };
            self.calls.push(argv);
            Ok(reply)
        }

        fn set_replication(&mut self, _flags: u8) {}

        fn error_already_counted(&mut self) {}

        fn may_run(&self, _argv: &[Bytes]) -> Option<bool> {
            Some(true)
        }
    }

    fn eval(body: &str) -> (String, Vec<Vec<Bytes>>) {
        let engine = ScriptEngine::new(Arc::new(ScriptWatch::default())).unwrap();
        let mut engine = engine;
        let sha = engine
            .load(&Bytes::copy_from_slice(body.as_bytes()))
            .unwrap();
        let mut host = FakeHost { calls: Vec::new() };
        let script = engine.get(&sha).unwrap();
        let keys = [Bytes::from_static(b"k1")];
        let args = [Bytes::from_static(b"a1"), Bytes::from_static(b"a2")];
        let reply = engine.run(
            script,
            &sha,
            Run {
                keys: &keys,
                args: &args,
            },
            &mut host,
        );
        let mut out = BytesMut::new();
        reply.encode(Protocol::Resp2, &mut out);
        (String::from_utf8_lossy(&out).into_owned(), host.calls)
    }

    #[test]
    fn replies_reach_the_script_as_redis_converts_them() {
        let (out, _) = eval("return redis.call('mixed')");
        assert_eq!(
            out,
            "*6\r\n:3\r\n$1\r\nx\r\n$-1\r\n:1\r\n+FINE\r\n*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n"
        );
    }

    #[test]
    fn arguments_are_strings_and_numbers_as_printed_by_percent_17g() {
        let (_, calls) = eval("redis.call('x', KEYS[1], ARGV[2], 3, 1.5, -0.0, 1e20) return 1");
        let argv: Vec<&[u8]> = calls[0].iter().map(|a| &a[..]).collect();
        let expected: [&[u8]; 7] = [b"x", b"k1", b"a2", b"3", b"1.5", b"-0", b"1e+20"];
        assert_eq!(argv, expected);
        let (out, calls) = eval("return redis.pcall('x', {})");
        assert!(calls.is_empty());
        assert!(out.starts_with("-ERR Lua redis lib command arguments must be strings"));
        let (out, _) = eval("return redis.pcall()");
        assert!(out.starts_with("-ERR Please specify at least one argument"));
    }

    #[test]
    fn errors_are_raised_by_call_and_returned_by_pcall() {
        let (out, _) = eval("return redis.call('fail')");
        assert!(
            out.starts_with("-WRONGTYPE Operation against a key script: "),
            "{out}"
        );
        let (out, _) = eval("local e = redis.pcall('fail') return e['err']");
        assert_eq!(out, "$33\r\nWRONGTYPE Operation against a key\r\n");
        let (out, _) = eval("return redis.pcall('refuse')");
        assert_eq!(
            out,
            "-ERR This Redis command is not allowed from script\r\n"
        );
    }

    #[test]
    fn deep_replies_and_results_grow_the_stack() {
        let (out, _) = eval("return redis.call('nested')");
        assert_eq!(out, format!("{}:7\r\n", "*1\r\n".repeat(12)));
        let (out, _) = eval("local t = {} t[1] = t return t");
        assert!(out.ends_with("-ERR reached lua stack limit\r\n"));
    }

    #[test]
    fn a_call_with_thousands_of_arguments_leaves_room_for_its_reply() {
        let (out, calls) =
            eval("local a = {} for i = 1, 7999 do a[i] = 1 end return redis.call('x', unpack(a))");
        assert_eq!(out, ":8000\r\n");
        assert_eq!(calls[0].len(), 8000);
    }
}
