#!/usr/bin/env python3
"""Regenerates rdb/tests/fixtures/redis8_field_expiry.{rdb,json} with a Redis 8.6 server.

Starts the given redis-server (8.6 or later: RDB 13, hash field expiry, stream IDMP) on a free
127.0.0.1 port in a temporary directory, writes a small dataset that forces the encodings
Redis 7.0 does not have, runs SAVE, copies dump.rdb and writes what the server reports for each
key to the JSON (bytes as hex, as for the other fixtures):
- a listpack hash with expiring fields (type 25), and one whose expiries were all removed;
- hashtable hashes with expiring fields (type 24): one of more than 512 fields (Redis 8's
  default hash-max-listpack-entries; 7.x had 128), with a key expiry too, and one made a
  hashtable by a value longer than hash-max-listpack-value (64 bytes);
- streams (type 26) with a consumer group, a consumer and pending entries, and with the
  idempotent-producer (IDMP) state that XADD IDMP / IDMPAUTO leave;
- ordinary keys of every type.
Hash values are [field, value, expire_at_ms or null] triples.

Usage: rdb/scripts/make_fixture_redis8.py --redis-server PATH [--out DIR]
Stream IDs and consumer times come from the clock, so a regenerated file differs in those.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts

import make_fixtures as mf  # noqa: E402  (the RESP client and the key dumpers)

NAME = "redis8_field_expiry"
FAR_FUTURE_MS = mf.FAR_FUTURE_MS  # 2100-01-01: nothing in the fixture ever expires


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(r):
    r.call("SELECT", 0)
    # Listpack hash with some expiring fields: OBJECT ENCODING listpackex, RDB type 25.
    r.call("HSET", "hfe:small", "a", "1", "b", "two", "c", "3", "d", "-40000", "e", "")
    r.call("HPEXPIREAT", "hfe:small", FAR_FUTURE_MS, "FIELDS", 2, "a", "c")
    r.call("HPEXPIREAT", "hfe:small", FAR_FUTURE_MS + 5000, "FIELDS", 1, "d")
    # A listpackex hash whose expiries were all removed again: still type 25, every TTL 0.
    r.call("HSET", "hfe:persisted", "x", "1", "y", "2")
    r.call("HPEXPIREAT", "hfe:persisted", FAR_FUTURE_MS, "FIELDS", 1, "x")
    r.call("HPERSIST", "hfe:persisted", "FIELDS", 1, "x")
    # More than hash-max-listpack-entries fields (512 in Redis 8), some expiring: hashtable,
    # type 24. The earliest expiry is not the first field's.
    r.call("HSET", "hfe:large", *sum([["f%d" % i, "v%d" % i] for i in range(600)], []))
    for i in range(0, 600, 7):
        r.call("HPEXPIREAT", "hfe:large", FAR_FUTURE_MS + 3000 - i, "FIELDS", 1, "f%d" % i)
    r.call("PEXPIREAT", "hfe:large", FAR_FUTURE_MS + 10**6)
    # A value longer than hash-max-listpack-value (64) makes a hashtable too; one integer field.
    r.call("HSET", "hfe:longvalue", "long", "L" * 100, "n", "42", "short", "s")
    r.call("HPEXPIREAT", "hfe:longvalue", FAR_FUTURE_MS, "FIELDS", 2, "long", "n")

    # Streams: type 26, with groups, consumers, pending entries and IDMP state.
    r.call("XADD", "stream:idmp", "*", "plain", "entry")
    # XCFGSET forgets the recorded IDs (not the counters): configure first. A day is the
    # longest duration, and the IDs must outlive the time between the XADDs and SAVE.
    r.call("XCFGSET", "stream:idmp", "IDMP-DURATION", 86400, "IDMP-MAXSIZE", 1000)
    r.call("XADD", "stream:idmp", "IDMP", "producer-1", "order-1", "*", "f", "v1")
    r.call("XADD", "stream:idmp", "IDMP", "producer-1", "order-2", "*", "f", "v2")
    r.call("XADD", "stream:idmp", "IDMP", "producer-1", "order-1", "*", "f", "dup")  # duplicate
    # IIDs stored integer-encoded and LZF-compressed, and IDMPAUTO's 16-byte digest.
    r.call("XADD", "stream:idmp", "IDMP", "p2", "12345", "*", "n", "7")
    r.call("XADD", "stream:idmp", "IDMP", "p2", "i" * 40, "*", "n", "8")
    r.call("XADD", "stream:idmp", "IDMPAUTO", "auto", "*", "g", "x")
    r.call("XGROUP", "CREATE", "stream:idmp", "g1", "0")
    r.call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 2, "STREAMS", "stream:idmp", ">")
    r.call("XADD", "stream:plain", "1-1", "a", "1")
    r.call("XADD", "stream:plain", "1-2", "b", "2")
    r.call("XGROUP", "CREATE", "stream:plain", "g", "0")
    r.call("XREADGROUP", "GROUP", "g", "bob", "COUNT", 1, "STREAMS", "stream:plain", ">")

    # Ordinary keys.
    r.call("SET", "str", "hello")
    r.call("SET", "int", "12345", "PXAT", FAR_FUTURE_MS)
    r.call("RPUSH", "list", "a", "b", "3")
    r.call("SADD", "set", "1", "2", "3")
    r.call("SADD", "set:str", "x", "y")
    r.call("ZADD", "zset", 1, "one", 2.5, "two")
    r.call("HSET", "hash:plain", "f", "v", "n", "1")
    r.call("HSET", "hash:hashtable", "long", "H" * 100, "k", "v")  # type 4: no field expires
    return [0]


def dump_hash(r, key):
    flat = r.call("HGETALL", key)
    fields = [f for f, _ in mf.pairs(flat)]
    times = r.call("HPEXPIRETIME", key, "FIELDS", len(fields), *fields)
    out = []
    for (f, v), t in zip(mf.pairs(flat), times):
        out.append([mf.hx(f), mf.hx(v), t if t >= 0 else None])
    return sorted(out, key=lambda x: (x[0], x[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-server", required=True, help="a Redis 8.6 or later redis-server")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures"))
    args = ap.parse_args()
    version = subprocess.run([args.redis_server, "--version"], capture_output=True,
                             text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="sluice-fixture-") as tmp:
        proc, r = mf.start_server(args.redis_server, free_port(), tmp, [])
        try:
            r.call("FLUSHALL")
            dbs = fill(r)
            keys = mf.dump_keys(r, dbs)
            for k in keys:
                if k["type"] == "hash":
                    r.call("SELECT", k["db"])
                    k["value"] = dump_hash(r, bytes.fromhex(k["key"]))
            r.call("SELECT", 0)
            r.call("SAVE")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.copyfile(os.path.join(tmp, "dump.rdb"), os.path.join(args.out, NAME + ".rdb"))
    expected = {"generator": version, "server_args": [], "functions": [], "keys": keys}
    with open(os.path.join(args.out, NAME + ".json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("%s: %d keys" % (NAME, len(keys)), file=sys.stderr)


if __name__ == "__main__":
    main()
