//! The Lua VM scripts run in: one per server, with the script cache (SHA1 → compiled
//! function) and the sandbox. It knows nothing of the keyspace: a script's commands go to a
//! [`Host`], which the command layer provides for each run.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value, Variadic, ffi};
use parking_lot::Mutex;

use super::convert::error_table;
use super::flags::{ScriptFlags, parse_shebang};
use super::libs::raise as lib_error;
use super::lrand48::Lrand48;
use super::native::{self, ContextPtr, OwnedContext};
use super::watch::ScriptWatch;
use super::{ScriptError, Sha1Hex};
use crate::resp::{Protocol, Reply};
use crate::util::num::i64_saturating;

/// The most memory the VM may take: a script that builds a huge table fails with an
/// out-of-memory error instead of taking the server down.
pub const VM_MEMORY_BYTES_MAX: usize = 1 << 30;

/// How often (in VM instructions) a script checks whether it was asked to stop (Redis's
/// count).
pub const HOOK_INSTRUCTIONS: u32 = 100_000;

/// Runs between two explicit collection steps, and the step's size (Redis's
/// `LUA_GC_CYCLE_PERIOD` for both).
const GC_STEP_RUNS: u32 = 50;
const GC_STEP_KBYTES: i32 = 50;

/// The error a killed script ends with.
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The chunk name of the engine's own Lua code: frames from it are skipped when an error
/// is placed in the user's script.
const INTERNAL_CHUNK: &str = "=sluice";

/// `redis.set_repl` flags (Redis's PROPAGATE_AOF | PROPAGATE_REPL).
pub const REPL_AOF: u8 = 1;
pub const REPL_REPLICA: u8 = 2;
pub const REPL_ALL: u8 = REPL_AOF | REPL_REPLICA;

/// What runs a script's commands: the command layer, for one run.
pub trait Host {
    /// Runs one command for the script, its client speaking `protocol`. `Err` is a refusal
    /// before the command ran (unknown command, write from a read-only script, ...), worded
    /// as Redis words it: `-CODE text`, or bare text that gets the code `ERR`.
    fn call(&mut self, argv: Vec<Bytes>, protocol: Protocol) -> Result<Reply, String>;
    /// `redis.set_repl`: where the script's following writes propagate (`REPL_*`).
    fn set_replication(&mut self, flags: u8);
    /// Whether `argv` names a command the caller may run (`redis.acl_check_cmd`); `None`
    /// when it names no command.
    fn may_run(&self, argv: &[Bytes]) -> Option<bool>;
    /// The script ends in an error that a command it called produced and that was counted
    /// in the error statistics then: its own error reply is not counted again.
    fn error_already_counted(&mut self);
}

/// A script in the cache.
pub struct CachedScript {
    pub body: Bytes,
    pub flags: ScriptFlags,
    function: Function,
}

/// One run's keys and arguments.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
}

/// A function a library registered while it loaded.
pub struct RegisteredFunction {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: ScriptFlags,
    callback: Function,
}

/// How a run passes its keys and arguments: EVAL sets the globals KEYS and ARGV; a
/// library's function receives them as its two arguments.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Eval,
    Function,
}

pub struct ScriptEngine {
    lua: Lua,
    /// The real global table (scripts see a read-only face of it).
    globals: Table,
    /// Runs a function under the error handler: `run(f)` → ok, value.
    runner: Function,
    /// The same for a library's function: `run_with(f, keys, args)`.
    runner_with_args: Function,
    /// Runs a library's code in the loading environment: ok and what it registered.
    library_loader: Function,
    /// Functions of loaded libraries, by lower-case function name (the function VM only).
    functions: HashMap<String, Function>,
    /// The registry generation these functions were compiled from.
    libraries_generation: u64,
    /// The environment scripts run in.
    env: Table,
    /// Where KILL requests and the load deadline are read.
    watch: Arc<ScriptWatch>,
    runs_since_gc_step: std::cell::Cell<u32>,
    scripts: HashMap<Sha1Hex, CachedScript>,
    /// Bytes of script bodies held (INFO's `used_memory_scripts_eval`).
    scripts_body_bytes: usize,
    /// What the native functions of a run share: the host its commands go to. Declared
    /// last so that it is freed after every field holding the VM.
    context: OwnedContext,
}

impl ScriptEngine {
    /// A new VM. `watch` is where SCRIPT KILL and FUNCTION KILL ask the running script to
    /// stop; the VM looks every [`HOOK_INSTRUCTIONS`] instructions.
    pub fn new(watch: Arc<ScriptWatch>) -> Result<ScriptEngine, ScriptError> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(VM_MEMORY_BYTES_MAX)?;
        let hook_watch = Arc::clone(&watch);
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS),
            move |_, _| {
                hook_watch.give_way_if_long();
                if hook_watch.kill_requested() {
                    return Err(mlua::Error::external(RaisedError {
                        err: KILLED.to_string(),
                    }));
                }
                if hook_watch.load_timed_out() {
                    return Err(mlua::Error::external(RaisedError {
                        err: "ERR FUNCTION LOAD timeout".to_string(),
                    }));
                }
                Ok(mlua::VmState::Continue)
            },
        );
        let globals = lua.globals();
        // Redis's deny list: these are absent, so a script reading them gets the
        // nonexistent-global error.
        for name in ["dofile", "loadfile", "print"] {
            globals.raw_set(name, Value::Nil)?;
        }
        register_libraries(&lua, &globals)?;
        let context = OwnedContext::default();
        let redis_api: Table = globals.raw_get("redis")?;
        register_redis_api(&lua, &redis_api, context.ptr())?;
        // SAFETY: a fresh VM, a protected call with mlua's free slots, no run under way.
        unsafe { lua.exec_raw::<()>((), |state| context.ptr().anchor_strings(state)) }?;
        let internal = internal_table(&lua, Arc::clone(&watch))?;
        let (runner, env, runner_with_args, library_loader): (Function, Table, Function, Function) =
            lua.load(include_str!("sandbox.lua"))
                .set_name(INTERNAL_CHUNK)
                .call((globals.clone(), internal))?;
        Ok(ScriptEngine {
            lua,
            globals,
            context,
            runner,
            runner_with_args,
            library_loader,
            functions: HashMap::new(),
            libraries_generation: 0,
            env,
            watch,
            runs_since_gc_step: std::cell::Cell::new(0),
            scripts: HashMap::new(),
            scripts_body_bytes: 0,
        })
    }

    pub fn get(&self, sha: &Sha1Hex) -> Option<&CachedScript> {
        self.scripts.get(sha)
    }

    pub fn contains(&self, sha: &Sha1Hex) -> bool {
        self.scripts.contains_key(sha)
    }

    pub fn script_count(&self) -> usize {
        self.scripts.len()
    }

    pub fn scripts_body_bytes(&self) -> usize {
        self.scripts_body_bytes
    }

    pub fn vm_memory_bytes(&self) -> usize {
        self.lua.used_memory()
    }

    /// Compiles `body` into the cache (SCRIPT LOAD, or EVAL of a new script). Errors are
    /// the reply's text.
    pub fn load(&mut self, body: &Bytes) -> Result<Sha1Hex, String> {
        let sha = Sha1Hex::of(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let shebang = parse_shebang(body).map_err(|e| format!("ERR {e}"))?;
        // The shebang is skipped but its line feed kept, so line numbers stay the user's.
        let source = &body[shebang.len_bytes..];
        let function = self
            .lua
            .load(source)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    error_message(&e)
                )
            })?;
        self.scripts_body_bytes += body.len();
        self.scripts.insert(
            sha,
            CachedScript {
                body: body.clone(),
                flags: shebang.flags,
                function,
            },
        );
        Ok(sha)
    }

    /// Runs a cached script (named `sha`) in EVAL mode, KEYS and ARGV as globals, and
    /// returns its reply. The script's client starts in RESP2; its commands go to `host`.
    pub fn run(
        &self,
        script: &CachedScript,
        sha: &Sha1Hex,
        run: Run<'_>,
        host: &mut dyn Host,
    ) -> Reply {
        self.run_function(&script.function, Mode::Eval, sha.as_str(), run, host)
    }

    /// Runs function `name` of a loaded library (FCALL).
    pub fn call_function(&self, name: &str, run: Run<'_>, host: &mut dyn Host) -> Reply {
        let Some(function) = self.functions.get(&name.to_ascii_lowercase()) else {
            return Reply::error("ERR Function not found");
        };
        self.run_function(function, Mode::Function, name, run, host)
    }

    fn run_function(
        &self,
        function: &Function,
        mode: Mode,
        name: &str,
        run: Run<'_>,
        host: &mut dyn Host,
    ) -> Reply {
        match self.try_run(function, mode, name, run, host) {
            Ok(reply) => reply,
            Err(e) => Reply::error(format!(
                "ERR Error running script {name}, {:.100}",
                error_message(&e)
            )),
        }
    }

    fn try_run(
        &self,
        function: &Function,
        mode: Mode,
        name: &str,
        run: Run<'_>,
        host: &mut dyn Host,
    ) -> mlua::Result<Reply> {
        let lua = &self.lua;
        let context = self.context.ptr();
        let bound = context.bind(host);
        let mut reply = None;
        let mut counted_already = false;
        // One protected call for the whole run: KEYS and ARGV built on the stack, the
        // script run under the error handler, and its result read off the stack (an error
        // is left there for `error_reply`).
        // SAFETY: the closures only push, call and read on the stack mlua hands them; they
        // hold nothing that needs dropping while a Lua call could raise (see `native`).
        let outcome = unsafe {
            let mut finish = |state: *mut ffi::lua_State| {
                // Stack: ok, value.
                if ffi::lua_toboolean(state, 1) != 0 {
                    let (result, counted) =
                        native::script_result(lua, state, 2, bound.protocol(), context);
                    reply = Some(result);
                    counted_already = counted;
                    ffi::lua_settop(state, 1);
                }
            };
            match mode {
                Mode::Eval => lua.exec_raw::<(bool, Value)>(
                    (&self.runner, function, &self.globals),
                    |state| {
                        native::push_bytes(state, b"KEYS");
                        native::push_string_array(state, run.keys);
                        ffi::lua_rawset(state, 3);
                        native::push_bytes(state, b"ARGV");
                        native::push_string_array(state, run.args);
                        ffi::lua_rawset(state, 3);
                        ffi::lua_settop(state, 2);
                        ffi::lua_call(state, 1, 2);
                        finish(state);
                    },
                ),
                Mode::Function => {
                    lua.exec_raw::<(bool, Value)>((&self.runner_with_args, function), |state| {
                        native::push_string_array(state, run.keys);
                        native::push_string_array(state, run.args);
                        ffi::lua_call(state, 3, 2);
                        finish(state);
                    })
                }
            }
        };
        drop(bound);
        let result = outcome.map(|(ok, value)| match reply {
            Some(reply) if ok => reply,
            _ => {
                let (reply, counted) = error_reply(&value, name);
                counted_already = counted;
                reply
            }
        });
        if counted_already {
            host.error_already_counted();
        }
        // Besides the collector's own pace, a step every GC_STEP_RUNS runs keeps the heap
        // near what is live (Redis does the same; its suite checks the VM stays under
        // 100 KB across 10,000 runs). It costs: each cycle walks the whole live heap, 9% of
        // a one-SET EVALSHA's time against 5% at the collector's own pace.
        let runs = self.runs_since_gc_step.get() + 1;
        if runs >= GC_STEP_RUNS {
            self.runs_since_gc_step.set(0);
            lua.gc_step_kbytes(GC_STEP_KBYTES)?;
        } else {
            self.runs_since_gc_step.set(runs);
        }
        result
    }

    /// The registry generation the loaded functions match.
    pub fn libraries_generation(&self) -> u64 {
        self.libraries_generation
    }

    pub fn set_libraries_generation(&mut self, generation: u64) {
        self.libraries_generation = generation;
    }

    /// Runs a library's code (after its header line) so that it registers its functions,
    /// which are returned, not installed. Errors are the reply's text without `ERR `.
    /// Loading stops with an error once it took `timeout` (none for a library that must
    /// load, such as one from our master or a snapshot).
    pub fn create_library(
        &self,
        code: &[u8],
        timeout: Option<std::time::Duration>,
    ) -> Result<Vec<RegisteredFunction>, String> {
        let deadline = timeout.map(|t| {
            super::watch::now_ms().saturating_add(crate::util::num::u64_saturating(t.as_millis()))
        });
        self.watch.set_load_deadline(deadline);
        let created = self.run_library_code(code);
        self.watch.set_load_deadline(None);
        created
    }

    fn run_library_code(&self, code: &[u8]) -> Result<Vec<RegisteredFunction>, String> {
        let chunk = self
            .lua
            .load(code)
            .set_name("@user_function")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", error_message(&e)))?;
        let (ok, outcome): (bool, Value) = self
            .library_loader
            .call(chunk)
            .map_err(|e| format!("Error registering functions: {}", error_message(&e)))?;
        let list = match (ok, outcome) {
            (true, Value::Table(list)) => list,
            (_, Value::String(text)) => {
                return Err(format!(
                    "Error registering functions: {}",
                    text.to_string_lossy()
                ));
            }
            _ => return Err("Error registering functions: unknown error".into()),
        };
        let mut registered = Vec::new();
        for entry in list.sequence_values::<Table>() {
            let entry = entry.map_err(|e| error_message(&e))?;
            let name: String = entry.raw_get("name").map_err(|e| error_message(&e))?;
            let callback: Function = entry.raw_get("callback").map_err(|e| error_message(&e))?;
            let description: Option<mlua::String> = entry
                .raw_get("description")
                .map_err(|e| error_message(&e))?;
            let flag_names: Table = entry.raw_get("flags").map_err(|e| error_message(&e))?;
            let mut flags = ScriptFlags::default();
            for flag in flag_names.sequence_values::<mlua::String>() {
                let flag = flag.map_err(|e| error_message(&e))?;
                super::flags::set_flags(&mut flags, &flag.as_bytes())?;
            }
            registered.push(RegisteredFunction {
                name,
                description: description.map(|d| Bytes::copy_from_slice(&d.as_bytes())),
                flags,
                callback,
            });
        }
        Ok(registered)
    }

    /// Makes a library's functions callable (replacing those of `replaced`, the names of
    /// the library's previous version).
    pub fn install_library(&mut self, replaced: &[String], registered: Vec<RegisteredFunction>) {
        for name in replaced {
            self.functions.remove(&name.to_ascii_lowercase());
        }
        for function in registered {
            self.functions
                .insert(function.name.to_ascii_lowercase(), function.callback);
        }
    }

    /// Forgets a deleted library's functions.
    pub fn remove_functions(&mut self, names: &[String]) {
        for name in names {
            self.functions.remove(&name.to_ascii_lowercase());
        }
    }
}

/// The reply for a script that raised `err` (the error handler's table, or a raw value
/// when the handler itself could not run), and whether the error was counted already.
fn error_reply(err: &Value, name: &str) -> (Reply, bool) {
    let Value::Table(table) = err else {
        let text = match err {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            Value::Error(e) => error_message(e),
            _ => "execution failure".to_string(),
        };
        return (
            Reply::error(format!("ERR Error running script {name}, {text:.100}")),
            false,
        );
    };
    let message: String = match table.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => "ERR unknown error".to_string(),
    };
    // Raised by redis.call for a command's error, which was counted when it happened.
    let counted = table
        .raw_get::<bool>("ignore_error_stats_update")
        .unwrap_or(false);
    let source: Option<String> = table.raw_get("source").ok();
    let line: Option<i64> = table.raw_get("line").ok();
    let reply = match (source, line) {
        (Some(source), Some(line)) => {
            Reply::error(format!("{message} script: {name}, on {source}:{line}."))
        }
        _ => Reply::error(message),
    };
    (reply, counted)
}

/// The message of an mlua error without mlua's decorations: what a Lua error handler would
/// have seen as the error's text.
pub fn error_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(text) | mlua::Error::SyntaxError { message: text, .. } => {
            text.clone()
        }
        mlua::Error::MemoryError(_) => "not enough memory".to_string(),
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::WithContext { cause, .. } => error_message(cause),
        other => other.to_string(),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A command's arguments from Lua values (`redis.acl_check_cmd`), converted as
/// `redis.call` converts them.
fn command_argv(values: &[Value]) -> Result<Vec<Bytes>, &'static str> {
    if values.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    values
        .iter()
        .map(|value| match value {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            #[allow(
                clippy::cast_precision_loss,
                reason = "the integer came from a Lua number, a double"
            )]
            Value::Integer(i) => Ok(native::number_argument(*i as f64)),
            Value::Number(n) => Ok(native::number_argument(*n)),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// The libraries Redis gives scripts besides Lua's own, the `redis` table's constants, and
/// `math.random` on Redis's generator.
fn register_libraries(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let cjson = lua.create_table()?;
    super::libs::cjson::register(lua, &cjson)?;
    globals.raw_set("cjson", cjson)?;
    let bit = lua.create_table()?;
    super::libs::bit::register(lua, &bit)?;
    globals.raw_set("bit", bit)?;
    let cmsgpack = lua.create_table()?;
    super::libs::cmsgpack::register(lua, &cmsgpack)?;
    globals.raw_set("cmsgpack", cmsgpack)?;
    let lua_struct = lua.create_table()?;
    super::libs::lua_struct::register(lua, &lua_struct)?;
    globals.raw_set("struct", lua_struct)?;

    let redis = lua.create_table()?;
    redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", redis_version_num())?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, level)?;
    }
    for (name, flags) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", REPL_AOF),
        ("REPL_SLAVE", REPL_REPLICA),
        ("REPL_REPLICA", REPL_REPLICA),
        ("REPL_ALL", REPL_ALL),
    ] {
        redis.raw_set(name, flags)?;
    }
    globals.raw_set("redis", redis)?;

    let rng = Arc::new(Mutex::new(Lrand48::default()));
    let math: Table = globals.raw_get("math")?;
    let draw = Arc::clone(&rng);
    math.raw_set(
        "random",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let r = draw.lock().next_fraction();
            let int_arg = |i: usize| number(&args[i]).map(c_int);
            match args.len() {
                0 => Ok(r),
                1 => match int_arg(0) {
                    Some(upper) if upper >= 1 => Ok((r * f64::from(upper)).floor() + 1.0),
                    Some(_) => Err(lib_error(
                        lua,
                        "bad argument #1 to 'random' (interval is empty)",
                    )),
                    None => Err(lib_error(
                        lua,
                        "bad argument #1 to 'random' (number expected)",
                    )),
                },
                2 => match (int_arg(0), int_arg(1)) {
                    (Some(lower), Some(upper)) if lower <= upper => {
                        let span = f64::from(upper) - f64::from(lower) + 1.0;
                        Ok((r * span).floor() + f64::from(lower))
                    }
                    (Some(_), Some(_)) => Err(lib_error(
                        lua,
                        "bad argument #2 to 'random' (interval is empty)",
                    )),
                    _ => Err(lib_error(lua, "bad argument to 'random' (number expected)")),
                },
                _ => Err(lib_error(lua, "wrong number of arguments")),
            }
        })?,
    )?;
    math.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let seed = args.first().and_then(number).ok_or_else(|| {
                lib_error(lua, "bad argument #1 to 'randomseed' (number expected)")
            })?;
            rng.lock().seed(c_int(seed));
            Ok(())
        })?,
    )?;
    Ok(())
}

/// `(int)n` for a Lua number a library takes as a C int (`luaL_checkint`), saturating.
fn c_int(n: f64) -> i32 {
    let wide = i64_saturating(n);
    i32::try_from(wide).unwrap_or(if wide < 0 { i32::MIN } else { i32::MAX })
}

/// `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next() << 16) | (next() << 8) | next()
}

/// The engine's native helpers the sandbox builds on.
fn internal_table(lua: &Lua, watch: Arc<ScriptWatch>) -> mlua::Result<Table> {
    let internal = lua.create_table()?;
    // A killed script's error may not be caught: pcall and xpcall raise it again.
    internal.raw_set(
        "killed",
        lua.create_function(move |_, ()| Ok(watch.kill_requested() || watch.load_timed_out()))?,
    )?;
    internal.raw_set(
        "error_text",
        lua.create_function(|_, err: Value| {
            Ok(match err {
                Value::Error(e) => match raised_by_redis(&e) {
                    Some(raised) => raised.err.clone(),
                    None => error_message(&e),
                },
                other => lua_tostring(&other),
            })
        })?,
    )?;
    internal.raw_set(
        "error_table",
        lua.create_function(|lua, text: mlua::String| error_table(lua, &text.to_string_lossy()))?,
    )?;
    internal.raw_set(
        "on_error",
        lua.create_function(|lua, err: Value| {
            // Anything but a Redis error is text that gets the code ERR, whatever it looks
            // like.
            let text = match err {
                Value::Table(table) => return located(lua, table),
                Value::Error(e) => match raised_by_redis(&e) {
                    Some(raised) => {
                        let table = lua.create_table()?;
                        table.raw_set("err", raised.err.as_str())?;
                        return located(lua, table);
                    }
                    None => error_message(&e),
                },
                Value::String(s) => s.to_string_lossy(),
                other => lua_tostring(&other),
            };
            let table = lua.create_table()?;
            table.raw_set("err", format!("ERR {text}"))?;
            located(lua, table)
        })?,
    )?;
    Ok(internal)
}

/// A Redis error table raised by the engine's native functions (redis.call and friends).
/// Native code cannot raise a Lua table, so it raises this, and the error handler and
/// `pcall` turn it back into the table's text.
#[derive(Debug, thiserror::Error)]
#[error("{err}")]
pub struct RaisedError {
    pub err: String,
}

fn raise(table: &Table) -> mlua::Error {
    let err = match table.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".to_string(),
    };
    mlua::Error::external(RaisedError { err })
}

fn raise_text(lua: &Lua, text: &str) -> mlua::Error {
    match error_table(lua, text) {
        Ok(table) => raise(&table),
        Err(e) => e,
    }
}

/// The Redis error inside an mlua error, if it is one.
fn raised_by_redis(e: &mlua::Error) -> Option<&RaisedError> {
    match e {
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<RaisedError>(),
        mlua::Error::CallbackError { cause, .. } => raised_by_redis(cause),
        mlua::Error::WithContext { cause, .. } => raised_by_redis(cause),
        _ => None,
    }
}

/// The `redis` table's functions. The ones that reach the server find the running
/// script's host through `context`; outside a run they raise Redis's error.
fn register_redis_api(lua: &Lua, redis: &Table, context: ContextPtr) -> mlua::Result<()> {
    /// A native function of the running script: `run` gets its arguments, host and
    /// protocol, and returns its value or an error's text.
    fn bound(
        lua: &Lua,
        context: ContextPtr,
        what: &'static str,
        run: fn(&[Value], &mut dyn Host, &mut Protocol) -> Result<Value, &'static str>,
    ) -> mlua::Result<Function> {
        lua.create_function(move |lua, args: Variadic<Value>| {
            // SAFETY: mlua calls this from the running script; no other reference to the
            // context is live during a native call.
            let Some((host, protocol)) = (unsafe { context.running() }) else {
                return Err(raise_text(
                    lua,
                    &format!("{what} can only be called inside a script invocation"),
                ));
            };
            run(&args, host, protocol).map_err(|text| raise_text(lua, text))
        })
    }
    for (name, function) in [
        ("call", native::redis_call as ffi::lua_CFunction),
        ("pcall", native::redis_pcall),
    ] {
        // SAFETY: pushes a C closure whose upvalue is the context, as the native functions
        // expect; the context outlives the VM's use of it (the engine owns both).
        let closure: Function = unsafe {
            lua.exec_raw((), |state| {
                ffi::lua_pushlightuserdata(state, context.as_light_userdata());
                ffi::lua_pushcclosure(state, function, 1);
            })
        }?;
        redis.raw_set(name, closure)?;
    }
    redis.raw_set(
        "setresp",
        bound(lua, context, "redis.setresp", |args, _, protocol| {
            if args.len() != 1 {
                return Err("redis.setresp() requires one argument.");
            }
            match number(&args[0]) {
                Some(2.0) => *protocol = Protocol::Resp2,
                Some(3.0) => *protocol = Protocol::Resp3,
                _ => return Err("RESP version must be 2 or 3."),
            }
            Ok(Value::Nil)
        })?,
    )?;
    redis.raw_set(
        "set_repl",
        bound(lua, context, "redis.set_repl", |args, host, _| {
            if args.len() != 1 {
                return Err("redis.set_repl() requires two arguments.");
            }
            match number(&args[0]).map(i64_saturating) {
                Some(flags @ 0..=3) => {
                    host.set_replication(u8::try_from(flags).unwrap_or(0));
                    Ok(Value::Nil)
                }
                _ => Err(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ),
            }
        })?,
    )?;
    redis.raw_set(
        "acl_check_cmd",
        bound(lua, context, "redis.acl_check_cmd", |args, host, _| {
            let argv = command_argv(args)?;
            match host.may_run(&argv) {
                Some(allowed) => Ok(Value::Boolean(allowed)),
                None => Err("Invalid command passed to redis.acl_check_cmd()"),
            }
        })?,
    )?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise_text(lua, "wrong number of arguments"));
            }
            let bytes: Vec<u8> = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => super::libs::number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            lua.create_string(Sha1Hex::of(&bytes).as_str())
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() < 2 {
                return Err(raise_text(
                    lua,
                    "redis.log() requires two arguments or more.",
                ));
            }
            let Some(level) = number(&args[0]) else {
                return Err(raise_text(
                    lua,
                    "First argument must be a number (log level).",
                ));
            };
            let level = i64_saturating(level);
            if !(0..=3).contains(&level) {
                return Err(raise_text(lua, "Invalid debug level."));
            }
            let text = args[1..]
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.to_string_lossy()),
                    Value::Integer(i) => Some(i.to_string()),
                    Value::Number(n) => Some(super::libs::number_text(*n)),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" ");
            match level {
                3 => tracing::warn!(target: "sluice::script", "{text}"),
                2 => tracing::info!(target: "sluice::script", "{text}"),
                _ => tracing::debug!(target: "sluice::script", "{text}"),
            }
            Ok(())
        })?,
    )?;
    Ok(())
}

/// Adds to an error table where in the user's code it was raised: the first frame, from
/// the handler up, that is neither native nor the engine's own.
fn located(lua: &Lua, table: Table) -> mlua::Result<Table> {
    {
        {
            // Level 0 is the handler itself.
            let mut level = 1;
            while let Some(frame) = lua.inspect_stack(level) {
                let source = frame.source();
                let internal =
                    source.what == "C" || source.source.as_deref() == Some(INTERNAL_CHUNK);
                if !internal {
                    table.raw_set("source", source.source.as_deref().unwrap_or("?"))?;
                    table.raw_set("line", frame.curr_line())?;
                    break;
                }
                level += 1;
            }
            Ok(table)
        }
    }
}

/// `tostring` of a value that is neither a string nor a number, as an error message.
fn lua_tostring(value: &Value) -> String {
    match value {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => super::libs::number_text(*n),
        other => other.type_name().into(),
    }
}
