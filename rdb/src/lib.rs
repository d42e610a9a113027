//! RDB codec for sluice. The format layer lives here with no I/O of its own; its content
//! arrives with the "RDB codec crate" issue.
