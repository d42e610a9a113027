//! zset commands.

use crate::cmd::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
