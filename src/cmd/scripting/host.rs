//! How a script's commands run: the checks Redis 7.0 makes for a command called from a
//! script (`scriptCall`), then the command itself, nested in the calling EVAL as EXEC nests
//! its commands.

use bytes::Bytes;

use crate::cmd::{Ctx, dispatch, flags, lookup, subcommands};
use crate::resp::{Protocol, Reply};
use crate::script::engine::{Host, REPL_REPLICA};
use crate::server::replication::LinkStatus;

pub struct ScriptHost<'c, 'a> {
    pub ctx: &'c mut Ctx<'a>,
    /// EVAL_RO, or a script declaring `no-writes`: write commands are refused.
    pub read_only: bool,
    /// The script has run a write: later writes are not refused for the server's state
    /// (the script cannot be stopped half-way).
    pub wrote: bool,
    /// `redis.set_repl`: whether the script's writes reach replicas.
    pub replicate: bool,
    /// Memory was past `maxmemory` when the script started (and it did not declare
    /// `allow-oom`): its first command that may grow the dataset is refused.
    pub out_of_memory: bool,
    /// The script's error reply was counted in the error statistics when the command that
    /// produced it failed.
    pub error_counted: bool,
}

impl<'c, 'a> ScriptHost<'c, 'a> {
    pub fn new(ctx: &'c mut Ctx<'a>, read_only: bool, out_of_memory: bool) -> ScriptHost<'c, 'a> {
        ScriptHost {
            ctx,
            read_only,
            wrote: false,
            replicate: true,
            out_of_memory,
            error_counted: false,
        }
    }

    /// Refusals before command `spec` (`None`: no such command) runs, in Redis's order.
    /// Texts without a code get `ERR`.
    fn refusal(
        &self,
        spec: Option<&'static crate::cmd::CommandSpec>,
        argv: &[Bytes],
    ) -> Result<&'static crate::cmd::CommandSpec, String> {
        let spec = spec.ok_or("Unknown Redis command called from script")?;
        if !spec.arity_ok(argv.len()) {
            return Err("Wrong number of args calling Redis command from script".into());
        }
        let mut command_flags = spec.flags;
        if dispatch::has_subcommands(spec.name) && subcommands::is_container(spec.name) {
            let sub = subcommands::lookup(spec.name, &argv[1])
                .ok_or("Unknown Redis command called from script")?;
            if !sub.arity_ok(argv.len()) {
                return Err("Wrong number of args calling Redis command from script".into());
            }
            command_flags = sub.flags;
        }
        let has = |flag: u32| command_flags & flag != 0;
        if has(flags::NOSCRIPT) {
            return Err("This Redis command is not allowed from script".into());
        }
        let state = &*self.ctx.state;
        let session = &*self.ctx.session;
        if let Some(link) = &state.repl.master
            && link.status != LinkStatus::Up
            && !state.config.replica_serve_stale_data
            && !has(flags::STALE)
        {
            return Err("Can not execute the command on a stale replica".into());
        }
        if self.read_only && has(flags::WRITE | flags::MAY_REPLICATE) {
            return Err("Write commands are not allowed from read-only scripts.".into());
        }
        if has(flags::WRITE)
            && !self.wrote
            && let Some(refusal) =
                dispatch::replication_refusal(state, session, spec, command_flags)
        {
            return Err(format!("-{refusal}"));
        }
        if self.out_of_memory && !self.wrote && has(flags::DENYOOM) && !session.source.from_master()
        {
            return Err(format!("-{}", crate::cmd::errors::OOM));
        }
        Ok(spec)
    }
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, argv: Vec<Bytes>, protocol: Protocol) -> Result<Reply, String> {
        let found = lookup(&argv[0]);
        let spec = match self.refusal(found, &argv) {
            Ok(spec) => spec,
            Err(refusal) => {
                // Counted as Redis counts a command it rejects: the command's rejected
                // calls and the error.
                let state = &mut *self.ctx.state;
                if let Some(spec) = found {
                    dispatch::command_stat(state, spec, None).rejected_calls += 1;
                }
                match refusal.strip_prefix('-') {
                    Some(text) => state.stats.record_error(text),
                    None => state.stats.record_error(&format!("ERR {refusal}")),
                }
                return Err(refusal);
            }
        };
        if spec.has(flags::WRITE) {
            self.wrote = true;
            self.ctx.server.script_watch.note_write();
        }
        let ctx = &mut *self.ctx;
        let effects_before = ctx.state.queued_effects();
        let caller_protocol = std::mem::replace(&mut ctx.session.protocol, protocol);
        let reply = dispatch::call(ctx.server, ctx.state, ctx.session, spec, &argv, true);
        ctx.session.protocol = caller_protocol;
        if !self.replicate {
            ctx.state.drop_effects_after(effects_before);
        }
        if let Reply::Error(text) = &reply {
            ctx.state.stats.record_error(text);
        }
        Ok(reply)
    }

    fn set_replication(&mut self, flags: u8) {
        self.replicate = flags & REPL_REPLICA != 0;
    }

    fn error_already_counted(&mut self) {
        self.error_counted = true;
    }

    fn may_run(&self, argv: &[Bytes]) -> Option<bool> {
        // Without ACL users, whoever may run scripts may run every command.
        lookup(&argv[0]).map(|_| true)
    }
}
