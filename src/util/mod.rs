//! Small pure helpers shared by commands.

pub mod glob;
pub mod longdouble;
pub mod num;
