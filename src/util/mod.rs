//! Small pure helpers shared by commands.

pub mod glob;
pub mod histogram;
pub mod inline_bytes;
pub mod longdouble;
pub mod num;
