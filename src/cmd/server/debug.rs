use bytes::Bytes;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_f64;

pub fn debug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"sleep", 3) => {
            // Redis reads the duration with atof: text that is not a number sleeps 0 seconds.
            let seconds = parse_f64(&argv[2])
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or(0.0);
            // Redis blocks the whole server for the duration; so does this (the lock is held),
            // which is what tests that use DEBUG SLEEP rely on.
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(3600.0)));
            Reply::ok()
        }
        (b"set-active-expire", 3) => match argv[2].as_ref() {
            b"0" => {
                ctx.state.active_expire = false;
                Reply::ok()
            }
            b"1" => {
                ctx.state.active_expire = true;
                Reply::ok()
            }
            _ => Reply::error(errors::NOT_INTEGER),
        },
        (b"reload", _) => reload(ctx, &argv[2..]),
        (b"help", 2) => Reply::Array(
            [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
                "    * MERGE: conflicting keys will be loaded from RDB.",
                "    * NOFLUSH: the existing database will not be removed before load, but",
                "      conflicting keys will generate an exception and kill the server.",
                "    * NOSAVE: the database will be loaded from an existing RDB file.",
                "    Examples:",
                "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
                "      the database.",
                "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
                "      existing RDB file.",
                "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
                "      file to the database.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        ),
        _ => Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, then load the file back in place of the
/// dataset. The file is loaded into new databases first, so a file that does not load
/// leaves the dataset as it was (Redis would have flushed it already).
fn reload(ctx: &mut Ctx<'_>, options: &[Bytes]) -> Reply {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for option in options {
        match option.to_ascii_lowercase().as_slice() {
            b"merge" => merge = true,
            b"noflush" => flush = false,
            b"nosave" => save = false,
            _ => {
                return Reply::error(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                );
            }
        }
    }
    if ctx.state.loading {
        return Reply::error("LOADING Redis is loading the dataset in memory");
    }
    if save && crate::snapshot::save::save_now(ctx.server, ctx.state).is_err() {
        return Reply::error("ERR");
    }
    let path = crate::snapshot::save::rdb_path(&ctx.state.config);
    let load_options = crate::snapshot::load::LoadOptions::from_config(&ctx.state.config);
    let loaded = match crate::snapshot::load::load_file(&path, load_options, None) {
        Ok(loaded) => loaded,
        Err(reason) => {
            tracing::warn!("DEBUG RELOAD: loading {} failed: {reason}", path.display());
            return Reply::error("ERR Error trying to load the RDB dump, check server logs.");
        }
    };
    let libraries = crate::script::library::from_codes(&loaded.functions, &ctx.server.script_watch);
    let state = &mut *ctx.state;
    if flush {
        state.functions = libraries;
    } else if !merge
        && let Some(taken) = libraries
            .iter()
            .find(|library| state.functions.get(&library.name).is_some())
    {
        tracing::warn!(
            "DEBUG RELOAD NOFLUSH: library {} already exists",
            taken.name
        );
        return Reply::error("ERR Error trying to load the RDB dump, check server logs.");
    } else {
        // MERGE: a library in the file replaces ours of the same name.
        for library in libraries.iter() {
            state.functions.insert(library.clone());
        }
    }
    if flush {
        let old = std::mem::replace(&mut state.dbs, loaded.dbs);
        std::thread::spawn(move || drop(old));
    } else {
        let conflict = loaded.dbs.iter().enumerate().find_map(|(index, db)| {
            db.iter()
                .find(|(key, _)| state.dbs.get(index).is_some_and(|d| d.get(key).is_some()))
                .map(|(key, _)| (index, key.clone()))
        });
        if let (false, Some((index, key))) = (merge, conflict) {
            tracing::warn!(
                "DEBUG RELOAD NOFLUSH: duplicate key '{}' in db {index}",
                String::from_utf8_lossy(&key)
            );
            return Reply::error("ERR Error trying to load the RDB dump, check server logs.");
        }
        for (index, db) in loaded.dbs.iter().enumerate() {
            let Some(target) = state.dbs.get_mut(index) else {
                continue;
            };
            for (key, entry) in db.iter() {
                target.insert(key.clone(), entry.clone());
            }
        }
    }
    state.watches.touch_db(None, |_, _| true);
    for index in 0..state.dbs.len() {
        state.blocking.signal_db(index);
    }
    state.expire_cursor = (0, 0);
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    Reply::ok()
}
