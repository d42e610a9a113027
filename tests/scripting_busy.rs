//! A script that runs too long: other clients are answered BUSY (not left hanging) once it
//! passed `busy-reply-threshold`, SCRIPT KILL and FUNCTION KILL stop one that has not
//! written, one that wrote cannot be killed, SHUTDOWN NOSAVE still ends the server, and a
//! library whose loading does not end is stopped by FUNCTION LOAD's timeout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::Duration;

use common::ServerProcess;

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

fn error_text(reply: &common::Resp) -> String {
    match reply {
        common::Resp::Error(text) => String::from_utf8_lossy(text).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_busy_script_is_answered_for_and_killed() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    let mut runner = server.client();
    client.cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]);

    runner
        .send(&["EVAL", "local a = 1 while true do a = a + 1 end", "0"])
        .expect("send");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(error_text(&client.cmd(&["PING"])), BUSY_EVAL);
    assert_eq!(error_text(&client.cmd(&["FUNCTION", "KILL"])), BUSY_EVAL);
    assert_eq!(error_text(&client.cmd(&["FUNCTION", "STATS"])), BUSY_EVAL);
    assert_eq!(
        client.cmd(&["SCRIPT", "KILL"]).text().as_deref(),
        Some("OK")
    );
    let ended = error_text(&runner.read().expect("the killed script's reply"));
    assert!(
        ended.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{ended}"
    );
    assert_eq!(client.cmd(&["PING"]).text().as_deref(), Some("PONG"));
    assert_eq!(
        error_text(&client.cmd(&["SCRIPT", "KILL"])),
        "NOTBUSY No scripts in execution right now."
    );

    // A function, killed by FUNCTION KILL only; FUNCTION STATS shows it meanwhile.
    client.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=spin\nredis.register_function('spin', function() local a = 1 while true do a = a + 1 end end)",
    ]);
    runner.send(&["FCALL", "spin", "0"]).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(error_text(&client.cmd(&["SCRIPT", "KILL"])), BUSY_FUNCTION);
    let stats = client.cmd(&["FUNCTION", "STATS"]);
    let running = stats
        .items()
        .and_then(|items| items.get(1).and_then(|r| r.items()))
        .expect("running_script is a map");
    assert_eq!(
        running.get(1).and_then(|name| name.text()).as_deref(),
        Some("spin")
    );
    assert_eq!(
        client.cmd(&["FUNCTION", "KILL"]).text().as_deref(),
        Some("OK")
    );
    error_text(&runner.read().expect("the killed function's reply"));
    assert_eq!(client.cmd(&["PING"]).text().as_deref(), Some("PONG"));

    // A library whose code does not end stops loading after FUNCTION LOAD's timeout.
    let load = client.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=forever\nlocal a = 1 while true do a = a + 1 end",
    ]);
    assert!(
        error_text(&load).contains("FUNCTION LOAD timeout"),
        "{load:?}"
    );

    // A script that wrote cannot be killed; SHUTDOWN NOSAVE ends the server anyway.
    runner
        .send(&["EVAL", "redis.call('set', 'k', 'v') while true do end", "0"])
        .expect("send");
    std::thread::sleep(Duration::from_millis(300));
    assert!(error_text(&client.cmd(&["SCRIPT", "KILL"])).starts_with("UNKILLABLE"));
    let _ = client.send(&["SHUTDOWN", "NOSAVE"]);
    let mut server = server;
    assert!(
        server.exited_within(Duration::from_secs(10)),
        "SHUTDOWN NOSAVE did not end a server running an unkillable script"
    );
}

/// A script may call INFO: the VM running it is busy, so INFO reports its figures as last
/// measured instead of waiting for it (which would hang the server).
#[test]
fn a_script_may_call_info() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    let eval = client.cmd(&[
        "EVAL",
        "return string.match(redis.call('info', 'memory'), 'number_of_cached_scripts:%d+')",
        "0",
    ]);
    assert!(
        eval.text()
            .is_some_and(|t| t.starts_with("number_of_cached_scripts:")),
        "{eval:?}"
    );
    client.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('f', function() return redis.call('info') end)",
    ]);
    let fcall = client.cmd(&["FCALL", "f", "0"]);
    assert!(
        fcall
            .text()
            .is_some_and(|t| t.contains("used_memory_vm_functions:")),
        "{fcall:?}"
    );
    assert_eq!(client.cmd(&["PING"]).text().as_deref(), Some("PONG"));
}
