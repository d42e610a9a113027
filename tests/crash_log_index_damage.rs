//! The durable log's index (sled's files) damaged after a kill -9: truncated to 100 bytes,
//! overwritten with garbage, or removed. The segments hold the records: the index is rebuilt
//! from them, and every write acknowledged after the snapshot is there after the restart,
//! and after one more. Nothing is lost silently: the rebuild is logged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test and benchmark code fails by panicking"
)]

mod common;

use std::path::Path;

use common::journal::{killed_master, present, start_on};

const POST_KEYS: usize = 1500;

fn sled_db(dir: &Path) -> std::path::PathBuf {
    dir.join("replog").join("db")
}

#[test]
fn a_damaged_index_is_rebuilt_from_the_segments_and_no_write_is_lost() {
    let killed = killed_master(POST_KEYS);
    type Damage = fn(&Path);
    let cases: [(&str, Damage); 3] = [
        ("truncated to 100 bytes", |db| {
            std::fs::File::options()
                .write(true)
                .open(db)
                .and_then(|f| f.set_len(100))
                .expect("truncating sled's db")
        }),
        ("overwritten with garbage", |db| {
            let len = usize::try_from(std::fs::metadata(db).map_or(4096, |m| m.len())).unwrap();
            let garbage: Vec<u8> = (0..len.max(4096))
                .map(|i| u8::try_from(i * 131 % 251).unwrap())
                .collect();
            std::fs::write(db, garbage).expect("overwriting sled's db")
        }),
        ("removed", |db| {
            std::fs::remove_file(db).expect("removing sled's db")
        }),
    ];
    for (name, damage) in cases {
        let copy = killed.copy("index-damage");
        assert!(
            sled_db(copy.path()).exists(),
            "sled's db file is where the test expects it"
        );
        damage(&sled_db(copy.path()));
        let mut server = start_on(copy.path());
        let mut client = server.client();
        let found = present(&mut client, &killed.post_keys);
        assert_eq!(
            found.len(),
            killed.post_keys.len(),
            "{name}: acknowledged writes lost; log:\n{}",
            server.log_text()
        );
        let dbsize = usize::try_from(client.cmd(&["DBSIZE"]).int().unwrap_or(0)).unwrap();
        assert_eq!(dbsize, killed.pre_keys + killed.post_keys.len(), "{name}");
        let log = server.log_text();
        assert!(
            log.contains("rebuilding it from"),
            "{name}: the rebuild is not logged:\n{log}"
        );
        // The rebuilt index is durable: a plain restart finds everything again, without a
        // rebuild.
        server.kill9();
        server.restart();
        common::compare::wait_loaded(&server);
        let mut client = server.client();
        assert_eq!(
            present(&mut client, &killed.post_keys).len(),
            killed.post_keys.len(),
            "{name}: after a second restart"
        );
        let log = server.log_text();
        assert_eq!(
            log.matches("rebuilding it from").count(),
            1,
            "{name}: the second restart rebuilt again:\n{log}"
        );
    }
}
