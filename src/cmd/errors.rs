//! Error replies, byte-identical to Redis 7.0's.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_STRING: &str = "ERR min or max not valid string range item";

pub fn wrong_arity(name: &str) -> String {
    format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    )
}

/// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `, truncated the way
/// Redis truncates it (128 bytes of name, args until 128 bytes).
pub fn unknown_command(argv: &[bytes::Bytes]) -> String {
    let name = c_string(&argv[0]);
    let name = String::from_utf8_lossy(&name[..name.len().min(128)]).into_owned();
    let mut args = String::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let arg = c_string(arg);
        let text = String::from_utf8_lossy(&arg[..arg.len().min(room)]).into_owned();
        args.push_str(&format!("'{text}' "));
    }
    format!("ERR unknown command '{name}', with args beginning with: {args}")
}

/// A known subcommand given the wrong arguments inside its handler (Redis's
/// `addReplySubcommandSyntaxError`).
pub fn subcommand_syntax(sub: &[u8], command: &str) -> String {
    let sub = c_string(sub);
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {} HELP.",
        command.to_ascii_uppercase()
    )
}

pub fn unknown_subcommand(sub: &[u8], command: &str) -> String {
    let sub = c_string(sub);
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    format!(
        "ERR unknown subcommand '{sub}'. Try {} HELP.",
        command.to_ascii_uppercase()
    )
}

/// Redis formats these names with `%s`, which stops at the first NUL byte.
fn c_string(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |end| &bytes[..end])
}

/// Writes while the last save failed (Redis's `shared.bgsaveerr`).
pub const BGSAVE_ERROR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
