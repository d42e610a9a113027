-- The environment scripts run in, built once per Lua VM.
--
-- Redis 7.0 runs scripts in a VM whose global table and libraries are read-only (a patched
-- Lua). sluice runs a stock Lua 5.1 and gets the same rules from proxies: scripts see
-- `env`, an empty table whose reads fall through to the real globals and whose writes
-- fail; every library table is seen through such a proxy too. Reading a global that does
-- not exist fails as well, with Redis's wording.
--
-- Arguments: the real globals (holding the libraries and the `redis` table with its native
-- functions), and the engine's internal helpers: `error_text` (the text of an error raised
-- by native code), `error_table` (Redis's error table for a reply's text), `on_error`.
-- Returns the functions that run a script (`run(f)`, and `run_with(f, keys, args)` for a
-- library's function), the environment scripts see, the function that switches that
-- environment to what a library sees while it loads (`set_loading(true)`: only
-- `redis.register_function`, `redis.log` and the version), and `load_library(f)`, which
-- runs a library's code and returns ok and its registered functions (or an error text).

local G, internal = ...
local error_text = internal.error_text
local error_table = internal.error_table

local error, select, type, tostring, setmetatable, getmetatable, rawset, rawequal =
    error, select, type, tostring, setmetatable, getmetatable, rawset, rawequal
local xpcall, pcall, loadstring, setfenv, getfenv, string_sub =
    xpcall, pcall, loadstring, setfenv, getfenv, string.sub

-- Tables scripts may not change (their proxies), weakly held.
local protected = setmetatable({}, { __mode = 'k' })

local function readonly_error()
    error('Attempt to modify a readonly table', 2)
end

-- The same, raised by a function standing in for a builtin (rawset, setmetatable): as the
-- builtin would raise it, without a position of its own.
local function readonly_refusal()
    error('Attempt to modify a readonly table', 0)
end

-- A read-only face of `real`. Its metatable is seen (getmetatable) through a read-only
-- face of its own, so that it cannot be changed either.
local function readonly(real)
    local meta = { __index = real, __newindex = readonly_error }
    local meta_face = setmetatable({}, {
        __index = meta, __newindex = readonly_error, __metatable = false })
    meta.__metatable = meta_face
    local face = setmetatable({}, meta)
    protected[face] = true
    protected[meta_face] = true
    return face, meta
end

-- Reading a name a table does not hold fails as reading a missing global does.
local function missing_global(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

local redis = G.redis

redis.error_reply = function(...)
    local text = ...
    if select('#', ...) ~= 1 or type(text) ~= 'string' then
        return { err = 'ERR wrong number or type of arguments' }
    end
    if string_sub(text, 1, 1) ~= '-' then
        text = '-' .. text
    end
    return error_table(text)
end

redis.status_reply = function(...)
    local text = ...
    if select('#', ...) ~= 1 or type(text) ~= 'string' then
        return { err = 'ERR wrong number or type of arguments' }
    end
    return { ok = text }
end

-- Scripts always replicate their effects since Redis 7.0; these remain for old scripts.
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end

-- pcall catches Redis's error tables as their text, as Redis 7.0's own pcall does; errors
-- raised by the engine's native functions become their text too.
local killed = internal.killed

-- The text of a Redis error table or of an error raised by native code; nil for others.
local function redis_error_text(err)
    if type(err) == 'table' and type(err.err) == 'string' then
        return err.err
    end
    if type(err) == 'userdata' then
        return error_text(err)
    end
end

local function caught(ok, ...)
    if ok then
        return ok, ...
    end
    local err = ...
    if killed() then
        error(err, 0)
    end
    return false, redis_error_text(err) or err
end
G.pcall = function(...)
    return caught(pcall(...))
end
local function caught_x(ok, ...)
    if not ok and killed() then
        error((...), 0)
    end
    return ok, ...
end
G.xpcall = function(...)
    return caught_x(xpcall(...))
end

-- What `run` hands back for an error: a table with the error text (prefixed `ERR` unless
-- it is a Redis error table already) and where in the script it happened, found by
-- skipping native frames and the engine's own.
local on_error = internal.on_error

local env -- the environment scripts see, built below

-- Code compiled inside a script runs in the script environment too, and never from
-- bytecode (which Lua 5.1 does not verify).
G.loadstring = function(text, name)
    if type(text) == 'string' and string_sub(text, 1, 1) == '\27' then
        return nil, 'binary chunks are not allowed'
    end
    local f, err = loadstring(text, name)
    if f then
        setfenv(f, env)
    end
    return f, err
end
G.load = function(reader, name)
    if type(reader) ~= 'function' then
        error("bad argument #1 to 'load' (function expected, got " .. type(reader) .. ")", 2)
    end
    local parts = {}
    while true do
        local part = reader()
        if part == nil or part == '' then
            break
        end
        if type(part) ~= 'string' then
            return nil, 'reader function must return a string'
        end
        parts[#parts + 1] = part
    end
    return G.loadstring(table.concat(parts), name or '=(load)')
end
G.getfenv = function(...)
    local found = getfenv(...)
    if rawequal(found, G) then
        return env
    end
    return found
end
G.rawset = function(t, ...)
    if protected[t] then
        readonly_refusal()
    end
    return rawset(t, ...)
end
G.setmetatable = function(t, ...)
    if protected[t] then
        readonly_refusal()
    end
    return setmetatable(t, ...)
end

-- What a library sees while it loads: its `redis` table only registers functions, logs
-- and tells the version.
local registering -- the list of functions the loading library registered, while it loads
local flag_names = { 'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys' }

local function register_error(text)
    error({ err = 'ERR ' .. text }, 0)
end

local function read_flags(list)
    local flags = {}
    local i = 1
    while true do
        local flag = list[i]
        if flag == nil then
            break
        end
        if type(flag) ~= 'string' and type(flag) ~= 'number' then
            register_error('unknown flag given')
        end
        local known
        for _, name in ipairs(flag_names) do
            if string.lower(tostring(flag)) == name then
                known = name
            end
        end
        if not known then
            register_error('unknown flag given')
        end
        flags[#flags + 1] = known
        i = i + 1
    end
    return flags
end

local function register_function(...)
    if not registering then
        register_error('redis.register_function can only be called on FUNCTION LOAD command')
    end
    local count = select('#', ...)
    if count < 1 or count > 2 then
        register_error('wrong number of arguments to redis.register_function')
    end
    local name, callback, flags, description
    if count == 1 then
        local named = ...
        if type(named) ~= 'table' then
            register_error('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
        end
        for key, value in pairs(named) do
            if type(key) ~= 'string' and type(key) ~= 'number' then
                register_error('named argument key given to redis.register_function is not a string')
            end
            key = string.lower(tostring(key))
            if key == 'function_name' then
                if type(value) ~= 'string' and type(value) ~= 'number' then
                    register_error('function_name argument given to redis.register_function must be a string')
                end
                name = tostring(value)
            elseif key == 'description' then
                if type(value) ~= 'string' and type(value) ~= 'number' then
                    register_error('description argument given to redis.register_function must be a string')
                end
                description = tostring(value)
            elseif key == 'callback' then
                if type(value) ~= 'function' then
                    register_error('callback argument given to redis.register_function must be a function')
                end
                callback = value
            elseif key == 'flags' then
                if type(value) ~= 'table' then
                    register_error('flags argument to redis.register_function must be a table representing function flags')
                end
                flags = read_flags(value)
            else
                register_error('unknown argument given to redis.register_function')
            end
        end
        if not name then
            register_error('redis.register_function must get a function name argument')
        end
        if not callback then
            register_error('redis.register_function must get a callback argument')
        end
    else
        name, callback = ...
        if type(name) ~= 'string' and type(name) ~= 'number' then
            register_error('first argument to redis.register_function must be a string')
        end
        if type(callback) ~= 'function' then
            register_error('second argument to redis.register_function must be a function')
        end
        name = tostring(name)
    end
    if not string.find(name, '^[%w_]+$') then
        register_error('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
    end
    -- Function names are compared ignoring case.
    local key = string.lower(name)
    if registering.names[key] then
        register_error('Function already exists in the library')
    end
    registering.names[key] = true
    registering.list[#registering.list + 1] = {
        name = name, callback = callback, flags = flags or {}, description = description }
end

local load_redis = setmetatable({
    register_function = register_function,
    log = redis.log,
    LOG_DEBUG = redis.LOG_DEBUG,
    LOG_VERBOSE = redis.LOG_VERBOSE,
    LOG_NOTICE = redis.LOG_NOTICE,
    LOG_WARNING = redis.LOG_WARNING,
    REDIS_VERSION = redis.REDIS_VERSION,
    REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}, { __index = missing_global })
local load_globals = setmetatable({ redis = readonly(load_redis) }, { __index = missing_global })

for _, name in ipairs({ 'string', 'math', 'table', 'cjson', 'bit', 'cmsgpack', 'struct', 'redis', 'coroutine' }) do
    if G[name] then
        G[name] = readonly(G[name])
    end
end
-- Methods on strings (`s:upper()`) go through the read-only face as well.
local string_meta = getmetatable('')
string_meta.__index = G.string
string_meta.__metatable = readonly(string_meta)

local env_meta
env, env_meta = readonly(G)
G._G = env
setmetatable(G, { __index = missing_global })
setfenv(0, env)

local function run(f)
    return xpcall(f, on_error)
end

local function run_with(f, keys, args)
    return xpcall(function() return f(keys, args) end, on_error)
end

local function set_loading(loading)
    env_meta.__index = loading and load_globals or G
end

-- Runs a library's code with the loading environment; returns true and the functions it
-- registered, or false and the error's text.
local function load_library(f)
    registering = { names = {}, list = {} }
    set_loading(true)
    local ok, err = pcall(f)
    set_loading(false)
    local registered = registering.list
    registering = nil
    if ok then
        return true, registered
    end
    return false, redis_error_text(err) or ('ERR ' .. tostring(err))
end

return run, env, run_with, load_library
