//! The command layer over a failing durable log: writes are refused with -MISCONF while
//! the log's store fails, and accepted again once it recovers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::FsyncPolicy;
use crate::durable::DurableLog;
use crate::durable::store::{Faults, MemStore};

/// Bounds every wait on the log writer.
const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn writes_are_refused_with_misconf_while_the_store_fails_and_accepted_after() {
    use crate::resp::Reply;
    let store = MemStore::new();
    let (log, _) = DurableLog::open(Arc::new(store.clone()), FsyncPolicy::EverySec).unwrap();
    let log = Arc::new(log);
    let server = crate::server::Server::new(crate::config::Config::default());
    server.state.lock().repl.durable = Some(log.clone());
    let mut session = crate::server::Session::new(1, true);
    let mut run = |args: &[&str]| -> Reply {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut state = server.state.lock();
        let reply = crate::cmd::dispatch::execute(&server, &mut state, &mut session, &argv)
            .unwrap_or(Reply::Nil);
        server.seal_log(&mut state);
        reply
    };
    store.inject(Faults {
        fail_applies: u32::MAX,
        fail_flushes: 0,
    });
    assert_eq!(run(&["SET", "a", "1"]), Reply::ok());
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !log.has_error() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let refused = run(&["SET", "b", "2"]);
    assert!(
        matches!(&refused, Reply::Error(e) if e.starts_with("MISCONF")),
        "{refused:?}"
    );
    // Reads go on.
    assert!(!matches!(run(&["GET", "a"]), Reply::Error(_)));
    store.inject(Faults::default());
    while log.has_error() {
        assert!(std::time::Instant::now() < deadline, "the retry succeeds");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(run(&["SET", "b", "2"]), Reply::ok());
    // Nothing was lost: the first SET is in the log.
    assert_eq!(
        log.flush(TIMEOUT).unwrap(),
        server.state.lock().repl.log.end_offset()
    );
}
