#!/usr/bin/env python3
"""Command throughput, sluice vs redis-server, on this machine, in one run.

Runs `redis-benchmark -P 16 -t <tests> -n N -r 100000 --csv` against a fresh sluice and a
fresh redis-server per round, and prints a markdown table of medians (with min and max) and the
ratio sluice / redis-server per command.

Both servers of a round run side by side and each test runs against one, then at once the
other (which one first alternates by test and round), so a slow phase of this shared machine
falls on both of a pair instead of on one server's whole run. Each server still sees the tests
in the order redis-benchmark would run them (SET fills the keys GET reads). The table also
gives each server's CPU time per request (user + system, from /proc), which depends less on
what else the machine is doing than requests/s does.

    python3 benches/compare_commands.py --rounds 3 --requests 2000000

It builds nothing: build sluice first (`cargo build --release`). Every server it starts binds
127.0.0.1 on a free port and is stopped when the round ends.
"""

import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TESTS = "set,get,incr,lpush,rpop,sadd,hset,zadd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, timeout_s=20):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING within {timeout_s}s")


def start(kind, binary, workdir):
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
    if kind == "redis":
        args += ["--appendonly", "no", "--daemonize", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port)
    return proc, port


def bench(port, tests, requests, pipeline, clients):
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-P", str(pipeline), "-c", str(clients),
         "-t", tests, "-n", str(requests), "-r", "100000", "--csv"],
        check=True, capture_output=True, text=True, timeout=1800,
    ).stdout
    rows = {}
    for row in csv.reader(io.StringIO(out)):
        if len(row) < 2 or row[0] == "test":
            continue
        name = row[0].split(" ")[0]
        rows[name] = float(row[1])
    return rows


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sluice", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "sluice"))
    p.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--requests", type=int, default=2_000_000)
    p.add_argument("--pipeline", type=int, default=16)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--tests", default=TESTS)
    p.add_argument("--output", help="also write the markdown table to this file")
    a = p.parse_args()

    results = {"sluice": [], "redis": []}
    cpu = {"sluice": [], "redis": []}
    tests = a.tests.split(",")
    for round_index in range(a.rounds):
        with tempfile.TemporaryDirectory() as sluice_dir, tempfile.TemporaryDirectory() as redis_dir:
            servers = {
                "sluice": start("sluice", a.sluice, sluice_dir),
                "redis": start("redis", a.redis, redis_dir),
            }
            rows = {"sluice": {}, "redis": {}}
            cpu_us = {"sluice": {}, "redis": {}}
            try:
                for test_index, test in enumerate(tests):
                    order = ["sluice", "redis"] if (round_index + test_index) % 2 == 0 else ["redis", "sluice"]
                    for kind in order:
                        proc, port = servers[kind]
                        before = cpu_seconds(proc.pid)
                        got = bench(port, test, a.requests, a.pipeline, a.clients)
                        used = cpu_seconds(proc.pid) - before
                        for name, value in got.items():
                            rows[kind][name] = value
                            cpu_us[kind][name] = used * 1e6 / a.requests
            finally:
                for proc, _ in servers.values():
                    stop(proc)
        for kind in ("sluice", "redis"):
            results[kind].append(rows[kind])
            cpu[kind].append(cpu_us[kind])
            print(f"# round {round_index + 1} {kind}: " + ", ".join(f"{k}={v:.0f}" for k, v in rows[kind].items()),
                  file=sys.stderr)

    names = list(results["redis"][0].keys())
    lines = [
        f"`redis-benchmark -P {a.pipeline} -c {a.clients} -t {a.tests} -n {a.requests} -r 100000`, "
        f"{a.rounds} alternating rounds, requests/s, median (min–max)",
        "",
        "| command | sluice | redis-server | ratio | CPU µs/request sluice | redis-server | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        s = [r.get(name, 0.0) for r in results["sluice"]]
        r = [x.get(name, 0.0) for x in results["redis"]]
        sm, rm = statistics.median(s), statistics.median(r)
        ratio = sm / rm if rm else float("nan")
        sc = statistics.median(c.get(name, 0.0) for c in cpu["sluice"])
        rc = statistics.median(c.get(name, 0.0) for c in cpu["redis"])
        # Lower CPU per request is better: the ratio is redis-server's over sluice's.
        cpu_ratio = rc / sc if sc else float("nan")
        lines.append(f"| {name} | {sm:,.0f} ({min(s):,.0f}–{max(s):,.0f}) | {rm:,.0f} ({min(r):,.0f}–{max(r):,.0f}) "
                     f"| {ratio:.2f} | {sc:.2f} | {rc:.2f} | {cpu_ratio:.2f} |")
    table = "\n".join(lines)
    print(table)
    if a.output:
        with open(a.output, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
