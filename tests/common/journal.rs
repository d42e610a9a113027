//! Reading sluice's durable-log segment files from the outside, for damage tests: each entry
//! is a 64-byte header (start offset u64, db u32, payload CRC u64, payload length u32, replid
//! 40 bytes, all little-endian) and its payload; markers have db `0xFFFF_FFF0`. The tests use it
//! to aim damage at a known record and to say exactly which writes must survive it.

use std::path::{Path, PathBuf};

const HEADER_BYTES: usize = 64;
const MARKER_DB: u32 = 0xFFFF_FFF0;

/// One command record of a segment, where it lies in the file.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub pos: usize,
    pub len: usize,
    pub start_offset: u64,
    pub payload: Vec<u8>,
}

impl StoredRecord {
    pub fn end_offset(&self) -> u64 {
        self.start_offset + self.payload.len() as u64
    }

    /// The keys with `prefix` that the record's commands name.
    pub fn keys_with(&self, prefix: &str) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.payload);
        text.split("\r\n")
            .filter(|w| w.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }
}

/// The segment files under `dir/replog/segments`, in name order (write order).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("replog").join("segments"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "seg"));
    files.sort();
    files
}

/// The command records of a segment file, in order, up to the first entry that does not
/// parse (markers are skipped).
pub fn records(path: &Path) -> Vec<StoredRecord> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER_BYTES <= bytes.len() {
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or([0; 4]));
        let start_offset = u64_at(at);
        let db = u32_at(at + 8);
        let len = u32_at(at + 20) as usize;
        let end = at + HEADER_BYTES + len;
        if end > bytes.len() {
            break;
        }
        if db != MARKER_DB {
            out.push(StoredRecord {
                pos: at,
                len: HEADER_BYTES + len,
                start_offset,
                payload: bytes[at + HEADER_BYTES..end].to_vec(),
            });
        }
        at = end;
    }
    out
}

/// Flips one byte of `path` at `pos`.
pub fn flip_byte(path: &Path, pos: usize) {
    let mut bytes = std::fs::read(path).expect("reading a segment");
    bytes[pos] ^= 0x20;
    std::fs::write(path, bytes).expect("writing a segment");
}

/// Cuts `path` to `len` bytes.
pub fn truncate(path: &Path, len: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .expect("truncating a segment");
}

/// Copies a directory tree (a killed server's data dir, to damage several copies of it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the copy");
    for entry in std::fs::read_dir(from).expect("listing").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

/// A master's data dir after a kill -9: an RDB snapshot of `pre:` keys (about 18 MB, so that
/// the first segment lies wholly below the snapshot), then `post:` keys written one per
/// round trip under `repl-log-fsync always` (so each is one record, acknowledged only once
/// durable). Returns the copied dir and the post keys in the order they were written.
pub struct KilledMaster {
    pub dir: super::TempDir,
    pub post_keys: Vec<String>,
    pub pre_keys: usize,
}

/// The flags every server of these tests runs with.
pub const FLAGS: [&str; 4] = [
    "--repl-log-fsync",
    "always",
    "--repl-log-snapshot-size",
    "0",
];

pub fn killed_master(post: usize) -> KilledMaster {
    let mut master = super::ServerProcess::sluice(&FLAGS);
    let mut client = master.client();
    let pre_keys = 18;
    let big = "p".repeat(1 << 20);
    for i in 0..pre_keys {
        assert_eq!(
            client.cmd_text(&["SET", &format!("pre:{i:02}"), &big]),
            "OK"
        );
    }
    assert_eq!(client.cmd_text(&["SAVE"]), "OK");
    // The snapshot becomes the replay base once the log is durable past it: with `always`
    // that is the SAVE's own flush.
    let mut post_keys = Vec::with_capacity(post);
    for i in 0..post {
        let key = format!("post:{i:05}");
        assert_eq!(
            client.cmd_text(&["SET", &key, &format!("value-{i:05}-{}", "v".repeat(60))]),
            "OK"
        );
        post_keys.push(key);
    }
    master.kill9();
    let dir = super::TempDir::new("killed-master");
    copy_dir(master.dir(), dir.path());
    KilledMaster {
        dir,
        post_keys,
        pre_keys,
    }
}

impl KilledMaster {
    /// A fresh copy of the killed master's dir, to damage.
    pub fn copy(&self, label: &str) -> super::TempDir {
        let copy = super::TempDir::new(label);
        copy_dir(self.dir.path(), copy.path());
        copy
    }
}

/// Starts sluice on `dir` with [`FLAGS`] and waits until it has loaded and replayed.
pub fn start_on(dir: &Path) -> super::ServerProcess {
    let dir_arg = dir.display().to_string();
    let mut args: Vec<&str> = FLAGS.to_vec();
    args.extend(["--dir", &dir_arg]);
    let server = super::ServerProcess::sluice(&args);
    super::compare::wait_loaded(&server);
    server
}

/// Which of `keys` the server holds.
pub fn present(client: &mut super::Client, keys: &[String]) -> Vec<String> {
    keys.iter()
        .filter(|k| client.cmd(&["EXISTS", k.as_str()]).int() == Some(1))
        .cloned()
        .collect()
}
