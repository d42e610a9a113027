//! RESP wire format: request parsing and reply encoding. Pure code, no I/O.

pub mod float;
pub mod parse;
pub mod reply;

pub use parse::{ParseLimits, ProtocolError, parse_request};
pub use reply::{Protocol, Reply};
