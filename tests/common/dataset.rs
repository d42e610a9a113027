//! A dataset builder shared by the replication tests.

use super::{Client, cmd, pipeline};

/// A deterministic pseudo-random generator, so failures reproduce.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() & 0xff) as u8).collect()
    }
}

/// Every type and encoding Redis 7.0 writes, TTLs, several dbs.
/// Keys of every type and encoding Redis has (small and large, integers, binary values,
/// expiries, several databases), for tests that compare a replica with its master.
pub fn populate_mixed(client: &mut Client) {
    let mut rng = Lcg(42);
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..400 {
        let value = match i % 5 {
            0 => i.to_string(),
            1 => format!("-{}", i * 1_000_003),
            2 => format!("value-{i}"),
            3 => "x".repeat(i * 7),
            _ => String::from_utf8_lossy(&rng.bytes(40)).into_owned(),
        };
        commands.push(vec![
            b"SET".to_vec(),
            format!("s:{i}").into_bytes(),
            value.into_bytes(),
        ]);
    }
    commands.push(vec![
        b"SET".to_vec(),
        b"big:random".to_vec(),
        rng.bytes(300_000),
    ]);
    commands.push(cmd(&["SET", "big:compressible", &"abc".repeat(100_000)]));
    commands.push(cmd(&["SET", "int:max", "9223372036854775807"]));
    commands.push(cmd(&["SET", "int:min", "-9223372036854775808"]));
    commands.push(cmd(&["SET", "empty", ""]));
    commands.push(cmd(&["RPUSH", "list:small", "a", "b", "1", "-2"]));
    for chunk in 0..10 {
        let mut push = cmd(&["RPUSH", "list:big"]);
        push.extend((0..100).map(|i| format!("item-{chunk}-{i}").into_bytes()));
        commands.push(push);
    }
    commands.push(vec![
        b"RPUSH".to_vec(),
        b"list:huge-items".to_vec(),
        rng.bytes(20_000),
        rng.bytes(10),
    ]);
    commands.push(cmd(&["HSET", "hash:small", "f1", "v1", "f2", "2"]));
    let mut hset = cmd(&["HSET", "hash:big"]);
    for i in 0..600 {
        hset.push(format!("field-{i}").into_bytes());
        hset.push(format!("{}", i * 3).into_bytes());
    }
    commands.push(hset);
    commands.push(cmd(&["SADD", "set:ints", "1", "2", "3", "-7", "100000"]));
    commands.push(cmd(&["SADD", "set:small", "a", "b", "c"]));
    let mut sadd = cmd(&["SADD", "set:big"]);
    sadd.extend((0..700).map(|i| format!("member-{i}").into_bytes()));
    commands.push(sadd);
    commands.push(cmd(&[
        "ZADD",
        "zset:small",
        "1",
        "a",
        "2.5",
        "b",
        "-3",
        "c",
    ]));
    let mut zadd = cmd(&["ZADD", "zset:big"]);
    for i in 0..300 {
        zadd.push(format!("{}", (i as f64) * 0.37 - 20.0).into_bytes());
        zadd.push(format!("m{i}").into_bytes());
    }
    zadd.extend(cmd(&[
        "-inf", "neg-inf", "+inf", "pos-inf", "1e300", "huge",
    ]));
    commands.push(zadd);
    for i in 0..50 {
        commands.push(cmd(&[
            "SET",
            &format!("ttl:{i}"),
            "v",
            "EX",
            &(1000 + i).to_string(),
        ]));
    }
    commands.push(cmd(&["RPUSH", "ttl:list", "x"]));
    commands.push(cmd(&["PEXPIRE", "ttl:list", "5000000"]));
    // Streams: several listpack nodes' worth, differing field sets, deletions, a trim, an
    // explicit last ID, and one with a TTL.
    for i in 1..=250 {
        let fields: Vec<String> = if i % 7 == 0 {
            vec![
                "other".into(),
                format!("{i}"),
                "extra".into(),
                "x".repeat(i % 50),
            ]
        } else {
            vec![
                "sensor".into(),
                format!("{}", i % 5),
                "value".into(),
                format!("{}", i * 3),
            ]
        };
        let mut xadd = cmd(&["XADD", "stream:big", &format!("{}-{}", 1000 + i / 3, i % 3)]);
        xadd.extend(fields.into_iter().map(String::into_bytes));
        commands.push(xadd);
    }
    commands.push(cmd(&["XDEL", "stream:big", "1010-0", "1020-1"]));
    commands.push(cmd(&["XTRIM", "stream:big", "MAXLEN", "200"]));
    commands.push(cmd(&["XADD", "stream:small", "1-1", "a", "1"]));
    commands.push(cmd(&[
        "XSETID",
        "stream:small",
        "5-5",
        "ENTRIESADDED",
        "9",
        "MAXDELETEDID",
        "2-0",
    ]));
    commands.push(cmd(&["XADD", "stream:empty", "1-0", "a", "1"]));
    commands.push(cmd(&["XDEL", "stream:empty", "1-0"]));
    commands.push(cmd(&["XADD", "stream:ttl", "1-0", "a", "1"]));
    commands.push(cmd(&["PEXPIRE", "stream:ttl", "5000000"]));
    for db in [3, 9, 15] {
        commands.push(cmd(&["SELECT", &db.to_string()]));
        for i in 0..20 {
            commands.push(cmd(&["SET", &format!("db{db}:{i}"), &format!("{db}-{i}")]));
        }
        commands.push(cmd(&["HSET", &format!("db{db}:hash"), "f", "v"]));
        commands.push(cmd(&["SET", &format!("db{db}:ttl"), "v", "PX", "9000000"]));
    }
    commands.push(cmd(&["SELECT", "0"]));
    pipeline(client, &commands);
}
