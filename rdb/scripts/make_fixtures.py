#!/usr/bin/env python3
"""Regenerates the RDB fixtures under rdb/tests/fixtures/ with the installed redis-server.

For each fixture it starts /usr/bin/redis-server on 127.0.0.1 (ports 7260-7269) in a temporary
directory, writes data chosen to force every encoding that server has, runs SAVE, copies
dump.rdb to <name>.rdb and writes what the server reports for every key (read back with plain
commands over RESP) to <name>.json. Byte strings are hex in the JSON.

Usage: rdb/scripts/make_fixtures.py [--redis-server PATH] [--out DIR]
The data is deterministic; times (stream consumers' seen-time, PEL delivery times) are not,
so regenerated files differ in those fields only.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAR_FUTURE_MS = 4102444800123  # 2100-01-01, so that fixtures never expire


class Resp:
    """A minimal RESP2 client: enough for fixture generation, no dependency."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, (int, float)):
                a = repr(a).encode() if isinstance(a, float) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        reply = self._read()
        if isinstance(reply, RespError):
            raise RuntimeError("%r -> %s" % (args[:3], reply))
        return reply

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            self._fill(n + 2)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise RuntimeError("bad RESP line %r" % line)


class RespError(str):
    pass


def hx(b):
    return b.hex()


def start_server(binary, port, workdir, extra):
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
            "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", os.path.join(workdir, "redis.log")] + extra
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            r = Resp(port)
            r.call("PING")
            return proc, r
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start on port %d" % port)


def pairs(flat):
    return [flat[i:i + 2] for i in range(0, len(flat), 2)]


def dump_stream(r, key):
    info = dict(pairs(r.call("XINFO", "STREAM", key, "FULL", "COUNT", 0)))
    out = {
        "length": info[b"length"],
        "last_id": info[b"last-generated-id"].decode(),
        "max_deleted_entry_id": info[b"max-deleted-entry-id"].decode(),
        "entries_added": info[b"entries-added"],
        "first_id": info[b"recorded-first-entry-id"].decode(),
        "entries": [[e[0].decode(), [hx(x) for x in e[1]]] for e in info[b"entries"]],
        "groups": [],
    }
    for g in info[b"groups"]:
        g = dict(pairs(g))
        out["groups"].append({
            "name": hx(g[b"name"]),
            "last_delivered_id": g[b"last-delivered-id"].decode(),
            "entries_read": g[b"entries-read"],
            "pending": [[p[0].decode(), hx(p[1]), p[2], p[3]] for p in g[b"pending"]],
            "consumers": [
                {
                    "name": hx(c[b"name"]),
                    "seen_time_ms": c[b"seen-time"],
                    "pending": [p[0].decode() for p in c[b"pending"]],
                }
                for c in (dict(pairs(c)) for c in g[b"consumers"])
            ],
        })
    return out


def dump_keys(r, dbs):
    keys = []
    for db in dbs:
        r.call("SELECT", db)
        names = sorted(r.call("KEYS", "*"))
        for k in names:
            t = r.call("TYPE", k).decode()
            enc = r.call("OBJECT", "ENCODING", k).decode()
            exp = r.call("PEXPIRETIME", k)
            entry = {"db": db, "key": hx(k), "type": t, "encoding": enc,
                     "expire_at_ms": exp if exp >= 0 else None}
            if t == "string":
                entry["value"] = hx(r.call("GET", k))
            elif t == "list":
                entry["value"] = [hx(x) for x in r.call("LRANGE", k, 0, -1)]
            elif t == "set":
                entry["value"] = sorted(hx(x) for x in r.call("SMEMBERS", k))
            elif t == "hash":
                entry["value"] = sorted([hx(f), hx(v)] for f, v in pairs(r.call("HGETALL", k)))
            elif t == "zset":
                flat = r.call("ZRANGE", k, 0, -1, "WITHSCORES")
                entry["value"] = [[hx(m), s.decode()] for m, s in pairs(flat)]
            elif t == "stream":
                entry["value"] = dump_stream(r, k)
            else:
                raise RuntimeError("unexpected type " + t)
            keys.append(entry)
    r.call("SELECT", 0)
    return keys


def fill_encodings(r):
    rnd = random.Random(20240607)
    # db 0: every string form and every collection encoding on both sides of the thresholds.
    r.call("SELECT", 0)
    r.call("SET", "str:small", "hello")
    for name, v in [("int8", "-100"), ("int16", "30000"), ("int32", "-2000000000"),
                    ("int64", "9223372036854775807"), ("zero", "0"), ("noncanon", "007"),
                    ("neg0", "-0"), ("float", "3.14")]:
        r.call("SET", "str:" + name, v)
    r.call("SET", "str:empty", "")
    r.call("SET", "str:binary", bytes(range(256)))
    r.call("SET", "str:lzf", "abcdefgh" * 300)
    r.call("SET", "str:lzf-short", "a" * 21)
    r.call("SET", "str:big-random", bytes(rnd.getrandbits(8) for _ in range(100_000)))
    r.call("SET", "str:utf8", "héllo wörld ✓")
    r.call("SET", "12345", "key that is an integer")
    r.call("SET", "str:expire-ms", "x", "PXAT", FAR_FUTURE_MS)
    r.call("SET", "str:expire-s", "y")
    r.call("EXPIREAT", "str:expire-s", 4102444800)

    r.call("RPUSH", "list:small", "a", "b", "1", "-5", "70000", "x" * 100)
    r.call("RPUSH", "list:large", *["item-%d" % i for i in range(5000)])
    r.call("RPUSH", "list:ints", *[str(rnd.randint(-10**12, 10**12)) for _ in range(300)])
    r.call("RPUSH", "list:bigelem", "head", "z" * 20000, bytes(rnd.getrandbits(8) for _ in range(9000)), "tail")
    r.call("RPUSH", "list:expire", "e1", "e2")
    r.call("PEXPIREAT", "list:expire", FAR_FUTURE_MS + 1)

    r.call("SADD", "set:intset16", *[str(i) for i in range(-50, 50)])
    r.call("SADD", "set:intset32", "100000", "-100000", "5")
    r.call("SADD", "set:intset64", "9223372036854775807", "-9223372036854775808", "0")
    r.call("SADD", "set:large-ints", *[str(i * 7) for i in range(600)])
    r.call("SADD", "set:strings", "apple", "banana", "cherry", "1")
    r.call("SADD", "set:large", *["member-%d" % i for i in range(1000)])

    r.call("HSET", "hash:small", "f1", "v1", "f2", "2", "n", "-300", "empty", "")
    r.call("HSET", "hash:large", *sum([["field-%d" % i, "value-%d" % i] for i in range(600)], []))
    r.call("HSET", "hash:longvalue", "f", "v" * 65, "g", "short")
    r.call("HSET", "hash:compressible", *sum([["k%d" % i, "abcabcabcabc" * 5] for i in range(200)], []))

    r.call("ZADD", "zset:small", 1, "one", 2.5, "two-and-half", -3, "minus-three", 0.1, "tenth",
           "inf", "pos-inf", "-inf", "neg-inf", 1e300, "huge")
    r.call("ZADD", "zset:large", *sum([[rnd.random() * 1000, "m-%d" % i] for i in range(500)], []))
    r.call("ZADD", "zset:longmember", 1, "m" * 65, 2, "short")
    r.call("ZADD", "zset:intscores", 1, "a", 100000, "b", -7, "c")

    # Streams: written by 7.0 as type 19, with deleted entries, groups, PEL and consumers.
    for i in range(1, 40):
        r.call("XADD", "stream:a", "%d-%d" % (1700000000000 + i // 3, i), "field", "v%d" % i, "n", str(i))
    r.call("XADD", "stream:a", "1700000000100-0", "other", "shape", "x", "y")
    r.call("XDEL", "stream:a", "1700000000001-3", "1700000000005-15")
    r.call("XGROUP", "CREATE", "stream:a", "g1", "0")
    r.call("XGROUP", "CREATE", "stream:a", "g2", "$")
    r.call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 5, "STREAMS", "stream:a", ">")
    r.call("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 3, "STREAMS", "stream:a", ">")
    r.call("XACK", "stream:a", "g1", "1700000000000-1")
    r.call("XGROUP", "CREATECONSUMER", "stream:a", "g2", "carol")
    r.call("XADD", "stream:empty", "MAXLEN", 0, "1-1", "f", "v")
    r.call("XADD", "stream:big", "*", "payload", "p" * 5000)
    for i in range(2000):
        r.call("XADD", "stream:big", "*", "i", str(i), "payload", "data-%d" % i)

    r.call("FUNCTION", "LOAD",
           "#!lua name=fixturelib\nredis.register_function('echo1', function(keys, args) return args[1] end)")

    # db 1 stays empty; db 2 and db 15 hold a few keys.
    r.call("SELECT", 2)
    r.call("SET", "db2:key", "in db 2")
    r.call("RPUSH", "db2:list", "a")
    r.call("SELECT", 15)
    r.call("SET", "db15:key", "in db 15", "PXAT", FAR_FUTURE_MS + 2)
    r.call("SELECT", 0)
    return [0, 2, 15]


def fill_small(r):
    r.call("SET", "plain", "no compression here " * 20)
    r.call("SET", "n", "42")
    r.call("HSET", "h", "a", "1")
    r.call("RPUSH", "l", "x", "y")
    r.call("SET", "e", "v", "PXAT", FAR_FUTURE_MS)
    return [0]


FIXTURES = [
    # name, extra server arguments, filler
    ("redis7_encodings", ["--maxmemory-policy", "allkeys-lru"], fill_encodings),
    ("redis7_nocompress_nocrc_lfu",
     ["--rdbcompression", "no", "--rdbchecksum", "no", "--maxmemory-policy", "allkeys-lfu"],
     fill_small),
    ("redis7_empty", [], lambda r: []),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-server", default="/usr/bin/redis-server")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures"))
    args = ap.parse_args()
    version = subprocess.run([args.redis_server, "--version"], capture_output=True, text=True).stdout.strip()
    os.makedirs(args.out, exist_ok=True)
    for i, (name, extra, fill) in enumerate(FIXTURES):
        port = 7260 + i
        with tempfile.TemporaryDirectory(prefix="sluice-fixture-") as tmp:
            proc, r = start_server(args.redis_server, port, tmp, extra)
            try:
                r.call("FLUSHALL")
                r.call("FUNCTION", "FLUSH")
                dbs = fill(r)
                keys = dump_keys(r, dbs)
                functions = [hx(lib[7]) for lib in (r.call("FUNCTION", "LIST", "WITHCODE"))]
                r.call("SAVE")
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            shutil.copyfile(os.path.join(tmp, "dump.rdb"), os.path.join(args.out, name + ".rdb"))
        expected = {"generator": version, "server_args": extra, "functions": functions, "keys": keys}
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(expected, f, indent=1, sort_keys=True)
            f.write("\n")
        print("%s: %d keys" % (name, len(keys)), file=sys.stderr)


if __name__ == "__main__":
    main()
