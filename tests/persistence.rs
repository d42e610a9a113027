//! RDB persistence end to end: SAVE / BGSAVE / the save rules / SHUTDOWN SAVE / DEBUG RELOAD,
//! restarts on the same dir compared key by key, files exchanged with a stock redis-server
//! in both directions, refusal of a bad file at start-up, -LOADING while a large file
//! loads, and a replica that continues with PSYNC after a restart. Every wait is bounded;
//! everything runs on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::compare::wait_for;
use common::compare::{assert_same_data, dataset, wait_in_sync};
use common::{Client, Resp, ServerProcess, TempDir, free_port, redis_available};

const DATABASES: usize = 16;
const SAVE_LIMIT: Duration = Duration::from_secs(20);
const EXIT_LIMIT: Duration = Duration::from_secs(20);

fn info(client: &mut Client, section: &str) -> String {
    client.cmd_text(&["INFO", section])
}

fn field(client: &mut Client, section: &str, name: &str) -> String {
    let text = info(client, section);
    common::info_field(&text, name)
        .unwrap_or_else(|| panic!("INFO {section} has no field {name}:\n{text}"))
}

fn field_u64(client: &mut Client, section: &str, name: &str) -> u64 {
    let value = field(client, section, name);
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number: {value}"))
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Sluice on `dir` (which the caller keeps alive across restarts).
fn sluice_on(dir: &Path, extra: &[&str]) -> ServerProcess {
    let dir = path_arg(dir);
    let mut args = vec!["--dir", dir.as_str()];
    args.extend_from_slice(extra);
    ServerProcess::sluice(&args)
}

/// SHUTDOWN [options]: the connection closes and the process exits.
fn shutdown(server: &mut ServerProcess, options: &[&str]) {
    let mut client = server.client();
    let mut argv = vec!["SHUTDOWN"];
    argv.extend_from_slice(options);
    client.send(&argv).expect("sending SHUTDOWN");
    assert!(
        client.closed_within(EXIT_LIMIT),
        "SHUTDOWN {options:?} did not close the connection; log:\n{}",
        server.log_text()
    );
    assert!(
        server.exited_within(EXIT_LIMIT),
        "the server did not exit after SHUTDOWN {options:?}; log:\n{}",
        server.log_text()
    );
}

fn ok(client: &mut Client, argv: &[&str]) {
    let reply = client.cmd(argv);
    assert_eq!(reply, Resp::simple("OK"), "{argv:?}");
}

/// Keys of every type, on both sides of the compact-encoding thresholds, with expiries,
/// in several dbs (one left empty in between).
fn populate(client: &mut Client) {
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap())
        + 3_600_000)
        .to_string();
    ok(client, &["SELECT", "0"]);
    ok(client, &["SET", "str", "hello"]);
    ok(client, &["SET", "int", "12345"]);
    ok(client, &["SET", "negative", "-42"]);
    ok(client, &["SET", "empty", ""]);
    ok(client, &["SET", "long", &"abcdefgh".repeat(200)]);
    ok(client, &["SET", "binary", "\u{0}\u{1}\r\n\u{7f}"]);
    ok(client, &["SET", "volatile", "v", "PXAT", &far]);
    let small: Vec<String> = (0..5).map(|i| format!("item{i}")).collect();
    let large: Vec<String> = (0..300).map(|i| format!("element-{i}")).collect();
    let mut push = |key: &str, items: &[String]| {
        let mut argv = vec!["RPUSH", key];
        argv.extend(items.iter().map(String::as_str));
        client.cmd(&argv);
    };
    push("list:small", &small);
    push("list:large", &large);
    let sadd = |client: &mut Client, key: &str, items: Vec<String>| {
        let mut argv = vec!["SADD".to_string(), key.to_string()];
        argv.extend(items);
        client.cmd(&argv);
    };
    sadd(
        client,
        "set:ints",
        (0..100).map(|i| i.to_string()).collect(),
    );
    sadd(
        client,
        "set:bigints",
        (0..600).map(|i| (i * 7).to_string()).collect(),
    );
    sadd(client, "set:small", small.clone());
    sadd(client, "set:large", large.clone());
    let hset = |client: &mut Client, key: &str, n: usize| {
        let mut argv = vec!["HSET".to_string(), key.to_string()];
        for i in 0..n {
            argv.push(format!("field{i}"));
            argv.push(format!("value{i}"));
        }
        client.cmd(&argv);
    };
    hset(client, "hash:small", 5);
    hset(client, "hash:large", 300);
    let zadd = |client: &mut Client, key: &str, n: usize| {
        let mut argv = vec!["ZADD".to_string(), key.to_string()];
        for i in 0..n {
            argv.push(format!("{}", i as f64 * 1.5 - 10.0));
            argv.push(format!("member{i}"));
        }
        client.cmd(&argv);
    };
    zadd(client, "zset:small", 5);
    zadd(client, "zset:large", 300);
    client.cmd(&[
        "ZADD",
        "zset:special",
        "inf",
        "top",
        "-inf",
        "bottom",
        "0.1",
        "tenth",
    ]);
    client.cmd(&["PEXPIREAT", "hash:small", &far]);
    ok(client, &["SELECT", "3"]);
    ok(client, &["SET", "in-db-3", "x"]);
    client.cmd(&["RPUSH", "list-in-3", "a", "b"]);
    ok(client, &["SELECT", "9"]);
    client.cmd(&["SADD", "set-in-9", "m"]);
    client.cmd(&["PEXPIREAT", "set-in-9", &far]);
    ok(client, &["SELECT", "0"]);
}

#[test]
fn save_then_restart_restores_every_key() {
    let dir = TempDir::new("persist-restart");
    let mut first = sluice_on(dir.path(), &[]);
    let mut client = first.client();
    populate(&mut client);
    ok(&mut client, &["SAVE"]);
    assert_eq!(field_u64(&mut client, "persistence", "rdb_saves"), 1);
    assert_eq!(
        field_u64(&mut client, "persistence", "rdb_changes_since_last_save"),
        0
    );
    assert!(dir.path().join("dump.rdb").exists());
    // Written after SAVE: only SHUTDOWN SAVE keeps them.
    ok(&mut client, &["SET", "after-save", "1"]);
    client.cmd(&["DEL", "str"]);
    let before = dataset(&mut client, DATABASES);
    drop(client);
    shutdown(&mut first, &["SAVE"]);

    let second = sluice_on(dir.path(), &[]);
    let mut client = second.client();
    let after = dataset(&mut client, DATABASES);
    assert_eq!(before, after, "dataset after restart differs");
    assert_eq!(
        field_u64(&mut client, "persistence", "rdb_last_load_keys_loaded"),
        before.len() as u64
    );
    assert_eq!(field(&mut client, "persistence", "loading"), "0");
    // A restarted master starts a new history and keeps the old one as replid2.
    let repl = info(&mut client, "replication");
    assert_ne!(
        common::info_field(&repl, "master_replid2").as_deref(),
        Some("0000000000000000000000000000000000000000"),
        "{repl}"
    );
}

#[test]
fn shutdown_without_save_points_does_not_save() {
    let dir = TempDir::new("persist-nosave");
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    ok(&mut client, &["SET", "k", "v"]);
    drop(client);
    shutdown(&mut server, &[]);
    assert!(!dir.path().join("dump.rdb").exists());
    // With save points configured a plain SHUTDOWN saves; NOSAVE does not.
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    ok(&mut client, &["SET", "k", "v"]);
    ok(&mut client, &["CONFIG", "SET", "save", "3600 1"]);
    drop(client);
    shutdown(&mut server, &["NOSAVE"]);
    assert!(!dir.path().join("dump.rdb").exists());
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    ok(&mut client, &["SET", "k", "v2"]);
    ok(&mut client, &["CONFIG", "SET", "save", "3600 1"]);
    assert_eq!(
        client.cmd(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        Resp::Error(b"ERR syntax error".to_vec())
    );
    drop(client);
    shutdown(&mut server, &[]);
    let server = sluice_on(dir.path(), &[]);
    assert_eq!(server.client().cmd(&["GET", "k"]), Resp::bulk("v2"));
}

#[test]
fn bgsave_reports_progress_and_outcome_in_info() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    populate(&mut client);
    let lastsave_before = client.cmd(&["LASTSAVE"]).int().expect("LASTSAVE integer");
    assert_eq!(
        client.cmd(&["BGSAVE", "bogus"]),
        Resp::Error(b"ERR syntax error".to_vec())
    );
    assert_eq!(
        client.cmd(&["BGSAVE"]),
        Resp::simple("Background saving started")
    );
    // A second one while the first runs is refused; it may also have finished already.
    let again = client.cmd(&["BGSAVE", "SCHEDULE"]);
    assert!(
        again == Resp::Error(b"ERR Background save already in progress".to_vec())
            || again == Resp::simple("Background saving started"),
        "{again:?}"
    );
    wait_for(
        SAVE_LIMIT,
        "the background saves to finish",
        || {
            let text = info(&mut client, "persistence");
            common::info_field(&text, "rdb_bgsave_in_progress").as_deref() == Some("0")
                && common::info_field(&text, "rdb_saves")
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|n| n >= 1)
        },
        String::new,
    );
    assert_eq!(
        field(&mut client, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert_eq!(
        field(&mut client, "persistence", "rdb_current_bgsave_time_sec"),
        "-1"
    );
    assert_ne!(
        field(&mut client, "persistence", "rdb_last_bgsave_time_sec"),
        "-1"
    );
    assert_eq!(
        field_u64(&mut client, "persistence", "rdb_changes_since_last_save"),
        0
    );
    assert!(client.cmd(&["LASTSAVE"]).int().unwrap_or(0) >= lastsave_before);
    assert!(server.dir().join("dump.rdb").exists());

    // A save that cannot write reports the failure.
    let missing = server.dir().join("missing").join("deeper");
    let reply = client.cmd(&["CONFIG", "SET", "dir", &path_arg(&missing)]);
    if reply == Resp::simple("OK") {
        assert_eq!(client.cmd(&["SAVE"]), Resp::Error(b"ERR".to_vec()));
        assert_eq!(
            field(&mut client, "persistence", "rdb_last_bgsave_status"),
            "err"
        );
        ok(
            &mut client,
            &["CONFIG", "SET", "dir", &path_arg(server.dir())],
        );
        ok(&mut client, &["SAVE"]);
        assert_eq!(
            field(&mut client, "persistence", "rdb_last_bgsave_status"),
            "ok"
        );
    }
}

#[test]
fn save_rules_trigger_a_background_save() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    ok(&mut client, &["CONFIG", "SET", "save", "1 1"]);
    assert_eq!(field_u64(&mut client, "persistence", "rdb_saves"), 0);
    ok(&mut client, &["SET", "k", "v"]);
    assert_eq!(
        field_u64(&mut client, "persistence", "rdb_changes_since_last_save"),
        1
    );
    // "1 change in more than 1 second": due at most ~2 s after the last save (start-up).
    wait_for(
        Duration::from_secs(5),
        "the save rule to save",
        || field_u64(&mut client, "persistence", "rdb_saves") >= 1,
        String::new,
    );
    wait_for(
        Duration::from_secs(5),
        "the counter to reset",
        || field_u64(&mut client, "persistence", "rdb_changes_since_last_save") == 0,
        String::new,
    );
    assert!(server.dir().join("dump.rdb").exists());
}

#[test]
fn flushall_with_save_points_saves_the_empty_dataset() {
    let dir = TempDir::new("persist-flushall");
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    ok(&mut client, &["SET", "k", "v"]);
    ok(&mut client, &["SAVE"]);
    ok(&mut client, &["SET", "k2", "v"]);
    ok(&mut client, &["CONFIG", "SET", "save", "3600 1000"]);
    ok(&mut client, &["FLUSHALL"]);
    assert_eq!(
        field_u64(&mut client, "persistence", "rdb_changes_since_last_save"),
        0
    );
    drop(client);
    shutdown(&mut server, &["NOSAVE"]);
    let server = sluice_on(dir.path(), &[]);
    assert_eq!(server.client().cmd(&["DBSIZE"]), Resp::Integer(0));
}

#[test]
fn debug_reload_saves_and_loads_back_the_same_data() {
    let server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    populate(&mut client);
    let before = dataset(&mut client, DATABASES);
    ok(&mut client, &["DEBUG", "RELOAD"]);
    assert_eq!(dataset(&mut client, DATABASES), before);
    // NOSAVE reloads the file as it is: later writes go away.
    ok(&mut client, &["SET", "later", "1"]);
    ok(&mut client, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert_eq!(client.cmd(&["EXISTS", "later"]), Resp::Integer(0));
    // NOFLUSH MERGE adds the file's keys to what is there.
    ok(&mut client, &["SET", "later", "1"]);
    ok(
        &mut client,
        &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"],
    );
    assert_eq!(client.cmd(&["EXISTS", "later", "str"]), Resp::Integer(2));
    assert_eq!(
        client.cmd(&["DEBUG", "RELOAD", "SOMETIMES"]),
        Resp::Error(
            b"ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".to_vec()
        )
    );
}

/// Starts sluice on `dir` without waiting for it; the caller watches it.
struct Spawned {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Spawned {
    fn start(dir: &Path, log_dir: &Path) -> Spawned {
        let port = free_port();
        let log = log_dir.join(format!("sluice-{port}.log"));
        let file = std::fs::File::create(&log).expect("creating the log file");
        let err = file.try_clone().expect("cloning the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--dir", &path_arg(dir)])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .expect("spawning sluice");
        Spawned { child, port, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit code, if the process exits within `limit`.
    fn exit_code_within(&mut self, limit: Duration) -> Option<Option<i32>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start-up with `file` as dump.rdb must fail, naming the file and `reason`.
fn assert_refused_at_startup(file: &[u8], reason: &str) {
    let dir = TempDir::new("persist-refused");
    std::fs::write(dir.path().join("dump.rdb"), file).expect("writing dump.rdb");
    let mut server = Spawned::start(dir.path(), dir.path());
    let code = server.exit_code_within(EXIT_LIMIT);
    let log = server.log_text();
    assert!(
        matches!(code, Some(Some(c)) if c != 0),
        "sluice did not refuse to start ({code:?}); log:\n{log}"
    );
    let path = dir.path().join("dump.rdb");
    assert!(
        log.contains(&path_arg(&path)),
        "the error does not name {}:\n{log}",
        path.display()
    );
    assert!(
        log.contains(reason),
        "the error does not say '{reason}':\n{log}"
    );
}

#[test]
fn a_bad_file_stops_startup_with_a_clear_error() {
    let dir = TempDir::new("persist-source");
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    populate(&mut client);
    ok(&mut client, &["SAVE"]);
    drop(client);
    shutdown(&mut server, &["NOSAVE"]);
    let good = std::fs::read(dir.path().join("dump.rdb")).expect("reading dump.rdb");

    let mut corrupt = good.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x5a;
    corrupt[middle + 1] ^= 0xa5;
    assert_refused_at_startup(&corrupt, "Fatal error loading the DB file");
    assert_refused_at_startup(&good[..good.len() - 20], "Fatal error loading the DB file");
    assert_refused_at_startup(b"not an rdb file at all", "Fatal error loading the DB file");
}

#[test]
fn a_file_holding_function_libraries_loads_them() {
    if redis_available("a_file_holding_function_libraries_loads_them") {
        // Redis 7.0 saves libraries with the FUNCTION2 opcode: they load with the keys.
        let redis_dir = TempDir::new("persist-function");
        let mut redis = ServerProcess::redis(&["--dir", &path_arg(redis_dir.path())]);
        let mut client = redis.client();
        ok(&mut client, &["SET", "k", "v"]);
        let library =
            "#!lua name=sluicetest\nredis.register_function('one', function() return 1 end)";
        assert_eq!(
            client.cmd_text(&["FUNCTION", "LOAD", library]),
            "sluicetest"
        );
        ok(&mut client, &["SAVE"]);
        drop(client);
        shutdown(&mut redis, &["NOSAVE"]);
        let file = std::fs::read(redis_dir.path().join("dump.rdb")).expect("reading dump.rdb");
        let dir = TempDir::new("persist-function-load");
        std::fs::write(dir.path().join("dump.rdb"), &file).expect("writing dump.rdb");
        let mut server = Spawned::start(dir.path(), dir.path());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut client = loop {
            if let Ok(client) = Client::try_connect(server.port) {
                break client;
            }
            assert!(
                Instant::now() < deadline,
                "no connection; log:\n{}",
                server.log_text()
            );
            assert!(
                server.exit_code_within(Duration::ZERO).is_none(),
                "sluice exited; log:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.cmd(&["GET", "k"]).text().as_deref() != Some("v") {
            assert!(Instant::now() < deadline, "the file's key never appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(client.cmd(&["FCALL", "one", "0"]).int(), Some(1));
    }
}

#[test]
fn a_file_written_by_redis_loads_in_sluice() {
    if !redis_available("a_file_written_by_redis_loads_in_sluice") {
        return;
    }
    let dir = TempDir::new("persist-from-redis");
    let mut redis = ServerProcess::redis(&["--dir", &path_arg(dir.path())]);
    let mut client = redis.client();
    populate(&mut client);
    ok(&mut client, &["SAVE"]);
    let expected = dataset(&mut client, DATABASES);
    drop(client);
    shutdown(&mut redis, &["NOSAVE"]);

    let sluice = sluice_on(dir.path(), &[]);
    let mut client = sluice.client();
    assert_eq!(dataset(&mut client, DATABASES), expected);
}

#[test]
fn a_file_written_by_sluice_loads_in_redis() {
    if !redis_available("a_file_written_by_sluice_loads_in_redis") {
        return;
    }
    let dir = TempDir::new("persist-to-redis");
    let mut sluice = sluice_on(dir.path(), &[]);
    let mut client = sluice.client();
    populate(&mut client);
    ok(&mut client, &["SAVE"]);
    let expected = dataset(&mut client, DATABASES);
    drop(client);
    shutdown(&mut sluice, &["NOSAVE"]);

    let redis = ServerProcess::redis(&["--dir", &path_arg(dir.path())]);
    let mut client = redis.client();
    assert_eq!(dataset(&mut client, DATABASES), expected);
}

#[test]
fn a_large_file_answers_loading_until_loaded() {
    const KEYS: usize = 300_000;
    const PER_COMMAND: usize = 1000;
    let dir = TempDir::new("persist-loading");
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    let mut sent = 0;
    for batch in 0..KEYS / PER_COMMAND {
        let mut argv = vec!["MSET".to_string()];
        for i in 0..PER_COMMAND {
            let n = batch * PER_COMMAND + i;
            argv.push(format!("key:{n:07}"));
            argv.push(format!("value-{n}"));
        }
        client.send(&argv).expect("sending MSET");
        sent += 1;
    }
    for _ in 0..sent {
        assert_eq!(client.read().expect("MSET reply"), Resp::simple("OK"));
    }
    ok(&mut client, &["SAVE"]);
    drop(client);
    shutdown(&mut server, &["NOSAVE"]);

    let mut restarted = Spawned::start(dir.path(), dir.path());
    let port = restarted.port;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        if let Ok(client) = Client::try_connect(port) {
            break client;
        }
        assert!(
            Instant::now() < deadline,
            "no connection; log:\n{}",
            restarted.log_text()
        );
        assert!(
            restarted.exit_code_within(Duration::ZERO).is_none(),
            "sluice exited"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut loading_replies = 0;
    let mut progress_seen = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ping = client.cmd(&["PING"]);
        let get = client.cmd(&["GET", "key:0000007"]);
        let text = info(&mut client, "persistence");
        let loading = common::info_field(&text, "loading")
            .unwrap_or_else(|| panic!("INFO persistence has no loading field:\n{text}"));
        if loading == "1" {
            for name in [
                "loading_total_bytes",
                "loading_loaded_bytes",
                "loading_loaded_perc",
                "loading_eta_seconds",
            ] {
                assert!(
                    common::info_field(&text, name).is_some(),
                    "no {name} while loading:\n{text}"
                );
            }
            progress_seen = true;
        }
        // Every reply is either the right one or -LOADING: never a wrong value, never
        // an empty dataset.
        let refused = Resp::Error(b"LOADING Redis is loading the dataset in memory".to_vec());
        let ping_ok = ping == Resp::simple("PONG");
        let get_ok = get == Resp::bulk("value-7");
        assert!(ping_ok || ping == refused, "PING while loading: {ping:?}");
        assert!(get_ok || get == refused, "GET while loading: {get:?}");
        if ping == refused || get == refused {
            loading_replies += 1;
        }
        if ping_ok && get_ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still loading after 120 s; log:\n{}",
            restarted.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("LOADING replies seen: {loading_replies}, progress fields seen: {progress_seen}");
    assert_eq!(client.cmd(&["DBSIZE"]), Resp::Integer(KEYS as i64));
    assert_eq!(field(&mut client, "persistence", "loading"), "0");
    assert!(
        restarted.log_text().contains("DB loaded from disk"),
        "{}",
        restarted.log_text()
    );
}

#[test]
fn a_restarted_replica_continues_with_a_partial_resync() {
    let master = ServerProcess::sluice(&[]);
    let mut m = master.client();
    populate(&mut m);
    let master_port = master.port.to_string();
    let replica_dir = TempDir::new("persist-replica");
    let replica_args = ["--replicaof", "127.0.0.1", master_port.as_str()];
    let mut replica = sluice_on(replica_dir.path(), &replica_args);
    let mut r = replica.client();
    wait_in_sync(&mut m, &mut r, Duration::from_secs(30));
    // The replica keeps the snapshot it received.
    wait_for(
        SAVE_LIMIT,
        "the replica's copy of the snapshot",
        || replica_dir.path().join("dump.rdb").exists(),
        String::new,
    );
    for i in 0..50 {
        ok(&mut m, &["SET", &format!("streamed:{i}"), "x"]);
    }
    m.cmd(&["SELECT", "3"]);
    ok(&mut m, &["SET", "streamed-in-3", "y"]);
    m.cmd(&["SELECT", "0"]);
    wait_in_sync(&mut m, &mut r, Duration::from_secs(30));
    let full_before = field_u64(&mut m, "stats", "sync_full");
    let partial_before = field_u64(&mut m, "stats", "sync_partial_ok");
    // With save points a plain SHUTDOWN saves the current offset.
    ok(&mut r, &["CONFIG", "SET", "save", "3600 1"]);
    drop(r);
    shutdown(&mut replica, &[]);

    // Written while the replica is down: the partial resync brings them.
    m.cmd(&["SELECT", "3"]);
    ok(&mut m, &["SET", "while-down", "z"]);
    m.cmd(&["SELECT", "0"]);
    assert_eq!(m.cmd(&["DEL", "str"]), Resp::Integer(1));

    let replica = sluice_on(replica_dir.path(), &replica_args);
    let mut r = replica.client();
    wait_in_sync(&mut m, &mut r, Duration::from_secs(30));
    assert_eq!(
        field_u64(&mut m, "stats", "sync_partial_ok"),
        partial_before + 1,
        "the restarted replica did not continue; replica log:\n{}",
        replica.log_text()
    );
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), full_before);
    assert_same_data(&mut m, &mut r, DATABASES);
    // And the stream goes on from there.
    ok(&mut m, &["SET", "after-restart", "1"]);
    wait_in_sync(&mut m, &mut r, Duration::from_secs(30));
    assert_eq!(r.cmd(&["GET", "after-restart"]), Resp::bulk("1"));
}

#[test]
fn sigterm_saves_when_save_points_are_configured() {
    let dir = TempDir::new("persist-sigterm");
    let mut server = sluice_on(dir.path(), &[]);
    let mut client = server.client();
    ok(&mut client, &["CONFIG", "SET", "save", "3600 1000"]);
    ok(&mut client, &["SET", "k", "kept"]);
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(
        server.exited_within(EXIT_LIMIT),
        "sluice ignored SIGTERM; log:\n{}",
        server.log_text()
    );
    let server = sluice_on(dir.path(), &[]);
    assert_eq!(server.client().cmd(&["GET", "k"]), Resp::bulk("kept"));
}

/// Hash field expiry times survive DEBUG RELOAD and SAVE + restart: such a snapshot is RDB 12
/// (type 24), and once no hash has times left, files are RDB 10 again for Redis 7.0.
#[test]
fn field_expiry_times_survive_reload_and_restart() {
    const FAR: i64 = 4_102_444_800_123;
    let mut server = ServerProcess::sluice(&[]);
    let mut client = server.client();
    client.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    client.cmd(&["HPEXPIREAT", "h", &FAR.to_string(), "FIELDS", "1", "a"]);
    let times = |client: &mut Client| {
        client
            .cmd(&["HPEXPIRETIME", "h", "FIELDS", "2", "a", "b"])
            .items()
            .unwrap_or_default()
    };
    let expected = vec![Resp::Integer(FAR), Resp::Integer(-1)];
    assert_eq!(times(&mut client), expected);
    ok(&mut client, &["DEBUG", "RELOAD"]);
    assert_eq!(times(&mut client), expected, "after DEBUG RELOAD");
    ok(&mut client, &["SAVE"]);
    let file = server.dir().join("dump.rdb");
    let header = |file: &Path| {
        std::fs::read(file)
            .map(|b| b[..9].to_vec())
            .unwrap_or_default()
    };
    assert_eq!(header(&file), b"REDIS0012");
    server.restart();
    common::compare::wait_loaded(&server);
    let mut client = server.client();
    assert_eq!(times(&mut client), expected, "after a restart");
    client.cmd(&["HPERSIST", "h", "FIELDS", "1", "a"]);
    // The active cycle forgets the hash within a cron run or two.
    wait_for(
        SAVE_LIMIT,
        "an RDB 10 file once no field has a time",
        || {
            ok(&mut client, &["SAVE"]);
            header(&file) == b"REDIS0010"
        },
        || format!("header {:?}", String::from_utf8_lossy(&header(&file))),
    );
}
