//! The replication log, pure: records and their encoding, the in-memory log whose byte
//! offsets are Redis's `master_repl_offset`, the replication ids, and the PSYNC decision.
//! No I/O and nothing of the server: the durable log (`durable/`) stores these records, and
//! the replication tasks stream them.

pub mod effect;
pub mod ids;
pub mod psync;
pub mod record;
pub mod repl_log;

pub use effect::Effect;
pub use ids::{ReplId, ReplIds};
pub use record::{Record, RecordError};
pub use repl_log::{ReplLog, db_number};
