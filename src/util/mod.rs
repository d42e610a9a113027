//! Small pure helpers shared by commands.

pub mod glob;
pub mod num;
