//! Scripts replicate as their effects: a job queue written the way BullMQ and Sidekiq use
//! Redis (Lua moving job ids between lists, sorted sets and hashes) runs from several
//! clients against a sluice master with a redis-server replica and a sluice replica, and all
//! three end identical, key by key. The reverse direction too: a redis-server master's
//! scripts reach a sluice replica. Scripts whose commands are not deterministic (SPOP,
//! math.random, TIME), that SELECT, find expired keys, or keep writes local with
//! `redis.set_repl` are covered as well.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::time::{Duration, Instant};

use common::compare::{assert_same_data, wait_in_sync};
use common::{Client, ServerProcess};

const SYNC_LIMIT: Duration = Duration::from_secs(30);
/// How long the clients keep the queue busy.
const LOAD_DURATION: Duration = Duration::from_secs(3);
const CLIENTS: usize = 4;

const ENQUEUE: &str = "
local id = redis.call('incr', KEYS[1])
redis.call('hset', KEYS[2] .. id, 'data', ARGV[1], 'created', ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('zadd', KEYS[3], tonumber(ARGV[2]) + tonumber(ARGV[3]), id)
else
  redis.call('lpush', KEYS[4], id)
end
return id";

const PROMOTE: &str = "
local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 10)
for _, id in ipairs(due) do
  redis.call('zrem', KEYS[1], id)
  redis.call('lpush', KEYS[2], id)
end
return #due";

const TAKE: &str = "
local id = redis.call('rpoplpush', KEYS[1], KEYS[2])
if not id then return false end
redis.call('hset', KEYS[3] .. id, 'started', ARGV[1], 'worker', ARGV[2])
redis.call('zadd', KEYS[4], ARGV[1], id)
return id";

const COMPLETE: &str = "
redis.call('lrem', KEYS[1], 1, ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('hset', KEYS[3] .. ARGV[1], 'done', ARGV[2])
redis.call('pexpire', KEYS[3] .. ARGV[1], 3600000)
redis.call('incr', KEYS[4])
local stats = cjson.decode(redis.call('get', KEYS[5]) or '{}')
stats[ARGV[3]] = (stats[ARGV[3]] or 0) + 1
redis.call('set', KEYS[5], cjson.encode(stats))
return 1";

/// Runs a cached script by SHA1, loading it on NOSCRIPT as client libraries do.
fn evalsha(client: &mut Client, body: &str, keys: &[&str], args: &[&str]) -> common::Resp {
    let sha = client.cmd(&["SCRIPT", "LOAD", body]).text().expect("sha");
    let numkeys = keys.len().to_string();
    let mut argv: Vec<&str> = vec!["EVALSHA", &sha, &numkeys];
    argv.extend_from_slice(keys);
    argv.extend_from_slice(args);
    client.cmd(&argv)
}

/// One worker: enqueues (some delayed), promotes due jobs, takes and completes them.
fn worker(port: u16, worker: usize, until: Instant) -> u64 {
    let mut client = Client::connect(port);
    let name = format!("w{worker}");
    let mut completed = 0;
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        let now = 1_000_000 + round;
        let delay = if round.is_multiple_of(3) { "2" } else { "0" };
        evalsha(
            &mut client,
            ENQUEUE,
            &["q:id", "q:job:", "q:delayed", "q:wait"],
            &[
                &format!("payload-{worker}-{round}"),
                &now.to_string(),
                delay,
            ],
        );
        evalsha(
            &mut client,
            PROMOTE,
            &["q:delayed", "q:wait"],
            &[&(now + 5).to_string()],
        );
        let taken = evalsha(
            &mut client,
            TAKE,
            &["q:wait", "q:active", "q:job:", "q:started"],
            &[&now.to_string(), &name],
        );
        if let Some(id) = taken.text() {
            evalsha(
                &mut client,
                COMPLETE,
                &["q:active", "q:started", "q:job:", "q:done", "q:stats"],
                &[&id, &now.to_string(), &name],
            );
            completed += 1;
        }
    }
    completed
}

/// Scripts whose effects differ from their text: only the effects make replicas equal.
fn scripts_with_effects(master: &mut Client) {
    master.cmd(&["SADD", "pool", "a", "b", "c", "d", "e", "f"]);
    for _ in 0..3 {
        master.cmd(&[
            "EVAL",
            "return redis.call('lpush', 'popped', redis.call('spop', KEYS[1]))",
            "1",
            "pool",
        ]);
    }
    master.cmd(&[
        "EVAL",
        "redis.call('set', 'random', tostring(math.random())); redis.call('set', 'now', redis.call('time')[1])",
        "0",
    ]);
    master.cmd(&[
        "EVAL",
        "redis.call('select', 3); redis.call('set', 'in3', 'x'); redis.call('select', 0); redis.call('set', 'in0', 'y')",
        "0",
    ]);
    // A key the script finds expired is deleted on the replicas before its writes.
    master.cmd(&["SET", "short", "v", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(50));
    master.cmd(&[
        "EVAL",
        "if not redis.call('get', 'short') then redis.call('set', 'short-was-gone', '1') end",
        "0",
    ]);
    master.cmd(&[
        "EVAL",
        "redis.set_repl(redis.REPL_NONE); redis.call('set', 'master-only', '1'); redis.set_repl(redis.REPL_ALL); redis.call('set', 'everywhere', '1')",
        "0",
    ]);
    master.cmd(&["EVAL", "redis.call('incrbyfloat', 'float', '0.1')", "0"]);
    // A transaction holding scripts is one block.
    master.cmd(&["MULTI"]);
    master.cmd(&[
        "EVAL",
        "redis.call('set', 'tx1', '1'); redis.call('set', 'tx2', '2')",
        "0",
    ]);
    master.cmd(&["EVAL", "redis.call('incr', 'tx3')", "0"]);
    master.cmd(&["EXEC"]);
}

#[test]
fn a_job_queue_of_scripts_replicates_to_redis_and_sluice() {
    if !common::redis_available("a_job_queue_of_scripts_replicates_to_redis_and_sluice") {
        return;
    }
    let master_server = ServerProcess::sluice(&[]);
    let port = master_server.port.to_string();
    let redis_replica_server = ServerProcess::redis(&["--replicaof", "127.0.0.1", &port]);
    let sluice_replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut master = master_server.client();
    let mut redis_replica = redis_replica_server.client();
    let mut sluice_replica = sluice_replica_server.client();
    wait_in_sync(&mut master, &mut redis_replica, SYNC_LIMIT);
    wait_in_sync(&mut master, &mut sluice_replica, SYNC_LIMIT);

    let until = Instant::now() + LOAD_DURATION;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let port = master_server.port;
            std::thread::spawn(move || worker(port, n, until))
        })
        .collect();
    let completed: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    assert!(completed > 0, "the workers completed no job");
    assert_eq!(
        master.cmd(&["GET", "q:done"]).text().as_deref(),
        Some(completed.to_string().as_str())
    );
    scripts_with_effects(&mut master);

    wait_in_sync(&mut master, &mut redis_replica, SYNC_LIMIT);
    wait_in_sync(&mut master, &mut sluice_replica, SYNC_LIMIT);
    // The write a script kept from replicas is on the master only.
    assert_eq!(master.cmd(&["EXISTS", "master-only"]).int(), Some(1));
    assert_eq!(redis_replica.cmd(&["EXISTS", "master-only"]).int(), Some(0));
    assert_eq!(
        sluice_replica.cmd(&["EXISTS", "master-only"]).int(),
        Some(0)
    );
    master.cmd(&["DEL", "master-only"]);
    wait_in_sync(&mut master, &mut redis_replica, SYNC_LIMIT);
    wait_in_sync(&mut master, &mut sluice_replica, SYNC_LIMIT);
    assert_same_data(&mut master, &mut redis_replica, 16);
    assert_same_data(&mut master, &mut sluice_replica, 16);
    // Replicas never ran Lua: their script caches are empty.
    let enqueue_sha = master
        .cmd(&["SCRIPT", "LOAD", ENQUEUE])
        .text()
        .expect("sha");
    assert_eq!(
        sluice_replica
            .cmd(&["SCRIPT", "EXISTS", &enqueue_sha])
            .items()
            .and_then(|i| i.first().and_then(|r| r.int())),
        Some(0)
    );
}

#[test]
fn a_redis_masters_scripts_reach_a_sluice_replica() {
    if !common::redis_available("a_redis_masters_scripts_reach_a_sluice_replica") {
        return;
    }
    let master_server = ServerProcess::redis(&[]);
    let port = master_server.port.to_string();
    let replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &port]);
    let mut master = master_server.client();
    let mut replica = replica_server.client();
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    let until = Instant::now() + Duration::from_secs(1);
    worker(master_server.port, 0, until);
    scripts_with_effects(&mut master);
    master.cmd(&["DEL", "master-only"]);
    wait_in_sync(&mut master, &mut replica, SYNC_LIMIT);
    assert_same_data(&mut master, &mut replica, 16);
}

const LIBRARY: &str = "#!lua name=counters\n\
redis.register_function('bump', function(keys) return redis.call('incr', keys[1]) end)\n\
redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";

/// The libraries a server lists: each library's fields, its functions in name order (the
/// order of a library's functions in FUNCTION LIST is a hash table's).
fn libraries(client: &mut Client) -> Vec<String> {
    let listed = client.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
    let mut out: Vec<String> = listed
        .items()
        .unwrap_or_default()
        .iter()
        .map(|library| {
            let fields = library.items().unwrap_or_default();
            fields
                .iter()
                .map(|field| match field.items() {
                    Some(functions) => {
                        let mut functions: Vec<String> =
                            functions.iter().map(|f| format!("{f:?}")).collect();
                        functions.sort();
                        functions.join(",")
                    }
                    None => format!("{field:?}"),
                })
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn functions_survive_restart_full_sync_and_reload() {
    if !common::redis_available("functions_survive_restart_full_sync_and_reload") {
        return;
    }
    // sluice → restart → redis-server replica (full sync) → FUNCTION LOAD propagates.
    let mut master_server = ServerProcess::sluice(&[]);
    let mut master = master_server.client();
    assert_eq!(
        master.cmd(&["FUNCTION", "LOAD", LIBRARY]).text().as_deref(),
        Some("counters")
    );
    assert_eq!(master.cmd(&["FCALL", "bump", "1", "c"]).int(), Some(1));
    master.cmd(&["SAVE"]);
    master_server.restart();
    common::compare::wait_loaded(&master_server);
    let mut master = master_server.client();
    assert_eq!(master.cmd(&["FCALL", "bump", "1", "c"]).int(), Some(2));
    assert_eq!(
        master.cmd(&["DEBUG", "RELOAD"]).text().as_deref(),
        Some("OK")
    );
    assert_eq!(
        master
            .cmd(&["FCALL_RO", "peek", "1", "c"])
            .text()
            .as_deref(),
        Some("2")
    );

    let port = master_server.port.to_string();
    let redis_replica_server = ServerProcess::redis(&["--replicaof", "127.0.0.1", &port]);
    let mut redis_replica = redis_replica_server.client();
    wait_in_sync(&mut master, &mut redis_replica, SYNC_LIMIT);
    assert_eq!(libraries(&mut redis_replica), libraries(&mut master));
    assert_eq!(
        redis_replica
            .cmd(&["FCALL_RO", "peek", "1", "c"])
            .text()
            .as_deref(),
        Some("2")
    );
    master.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=more\nredis.register_function('two', function() return 2 end)",
    ]);
    master.cmd(&["FUNCTION", "DELETE", "counters"]);
    wait_in_sync(&mut master, &mut redis_replica, SYNC_LIMIT);
    assert_eq!(libraries(&mut redis_replica), libraries(&mut master));

    // redis-server master with functions → sluice replica (full sync, then the stream).
    let redis_master_server = ServerProcess::redis(&[]);
    let mut redis_master = redis_master_server.client();
    redis_master.cmd(&["FUNCTION", "LOAD", LIBRARY]);
    redis_master.cmd(&["FCALL", "bump", "1", "c"]);
    let redis_port = redis_master_server.port.to_string();
    let sluice_replica_server = ServerProcess::sluice(&["--replicaof", "127.0.0.1", &redis_port]);
    let mut sluice_replica = sluice_replica_server.client();
    wait_in_sync(&mut redis_master, &mut sluice_replica, SYNC_LIMIT);
    assert_eq!(libraries(&mut sluice_replica), libraries(&mut redis_master));
    assert_eq!(
        sluice_replica
            .cmd(&["FCALL_RO", "peek", "1", "c"])
            .text()
            .as_deref(),
        Some("1")
    );
    redis_master.cmd(&["FUNCTION", "FLUSH"]);
    redis_master.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=more\nredis.register_function('two', function() return 2 end)",
    ]);
    wait_in_sync(&mut redis_master, &mut sluice_replica, SYNC_LIMIT);
    assert_eq!(libraries(&mut sluice_replica), libraries(&mut redis_master));
    assert_same_data(&mut redis_master, &mut sluice_replica, 16);
}
