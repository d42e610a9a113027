#!/usr/bin/env python3
"""Command throughput, sluice beside redis-server and the anchors, on this machine, in one run.

Runs `redis-benchmark -P 16 -t <tests> -n N -r 100000 --csv` against a fresh server of each kind
per round: sluice, Debian's redis-server, and every anchor given with --anchor (Redis 8.6,
Valkey 9.1, ...). It prints a markdown table of medians (with min and max) per command, the
ratio of sluice to the best of the others, and each server's CPU time per request.

All servers of a round run side by side and each test runs against every one of them in turn,
the order rotating by test and round, so a slow phase of this shared machine falls on all of
them instead of on one server's whole run. Each server still sees the tests in the order
redis-benchmark would run them (SET fills the keys GET reads). CPU time per request (user +
system of the master, from /proc) depends less on what else the machine is doing than
requests/s does.

With --replica, every master gets one replica of its own kind, attached (and in sync) before
the first test; the replica's CPU time is reported too, as it shares the machine's cores.

    python3 benches/compare_commands.py --rounds 3 --requests 1000000 \\
        --anchor redis-8.6=ANCHORS/redis-8.6.3/bin/redis-server \\
        --anchor valkey-9.1=ANCHORS/valkey-9.1.2/bin/valkey-server [--replica] [--json F]

It builds nothing: build sluice first (`cargo build --release`). Every server it starts binds
127.0.0.1 on a free port with no snapshots and no AOF (sluice keeps its durable log with its
default `repl-log-fsync everysec`), and is stopped when the round ends.
"""

import argparse
import csv
import io
import json
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


def command(port, *args, timeout_s=5):
    """Sends one command and returns the raw reply bytes (enough for PING and INFO)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(payload)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
            if data.startswith(b"$"):
                header, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(header[1:]) + 2:
                    return data
            elif data.endswith(b"\r\n"):
                return data


def wait_until(predicate, what, timeout_s=60):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen within {timeout_s}s")


class Server:
    def __init__(self, label, binary, workdir, master_port=None):
        self.label = label
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
        if label != "sluice":
            args += ["--appendonly", "no", "--daemonize", "no"]
        if master_port is not None:
            args += ["--replicaof", f"127.0.0.1 {master_port}"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: command(self.port, "PING").startswith(b"+PONG"), f"{label} answering PING")
        if master_port is not None:
            wait_until(lambda: b"master_link_status:up" in command(self.port, "INFO", "replication"),
                       f"{label} replica in sync")

    def cpu_seconds(self):
        """User + system CPU seconds of the process so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


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


def run_round(binaries, tests, a, round_index):
    """One round: a fresh master (and replica) of each kind; returns per label
    {"rps": {test: r/s}, "cpu": {test: µs/request}, "replica_cpu": {...}}."""
    out = {label: {"rps": {}, "cpu": {}, "replica_cpu": {}} for label in binaries}
    with tempfile.TemporaryDirectory() as root:
        masters, replicas = {}, {}
        try:
            for label, binary in binaries.items():
                master_dir = os.path.join(root, label, "master")
                os.makedirs(master_dir)
                masters[label] = Server(label, binary, master_dir)
                if a.replica:
                    replica_dir = os.path.join(root, label, "replica")
                    os.makedirs(replica_dir)
                    replicas[label] = Server(label, binary, replica_dir, master_port=masters[label].port)
            labels = list(binaries)
            for test_index, test in enumerate(tests):
                shift = (round_index + test_index) % len(labels)
                for label in labels[shift:] + labels[:shift]:
                    master, replica = masters[label], replicas.get(label)
                    before = master.cpu_seconds()
                    replica_before = replica.cpu_seconds() if replica else 0.0
                    got = bench(master.port, test, a.requests, a.pipeline, a.clients)
                    used = master.cpu_seconds() - before
                    replica_used = replica.cpu_seconds() - replica_before if replica else 0.0
                    for name, value in got.items():
                        out[label]["rps"][name] = value
                        out[label]["cpu"][name] = used * 1e6 / a.requests
                        out[label]["replica_cpu"][name] = replica_used * 1e6 / a.requests
        finally:
            for server in list(replicas.values()) + list(masters.values()):
                server.stop()
    return out


def fmt_range(values):
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def table(results, a):
    labels = list(results)
    others = [label for label in labels if label != "sluice"]
    names = list(results["sluice"][0]["rps"].keys())
    mode = "one replica each" if a.replica else "no replica"
    lines = [
        f"`redis-benchmark -P {a.pipeline} -c {a.clients} -t {a.tests} -n {a.requests} -r 100000`, "
        f"{mode}, {a.rounds} rotating rounds; requests/s, median (min–max); "
        "ratio = sluice / the best of the others",
        "",
        "| command | " + " | ".join(labels) + " | ratio |",
        "| --- |" + " ---: |" * (len(labels) + 1),
    ]
    medians = {}
    for name in names:
        cells = []
        for label in labels:
            values = [r["rps"].get(name, 0.0) for r in results[label]]
            medians[(label, name)] = statistics.median(values)
            cells.append(fmt_range(values))
        best = max(medians[(label, name)] for label in others)
        ratio = medians[("sluice", name)] / best if best else float("nan")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    lines += [
        "",
        "CPU µs per request of the master, median (lower is better; ratio = the lowest of the "
        "others / sluice's)" + (", and of the replica" if a.replica else ""),
        "",
        "| command | " + " | ".join(labels) + " | ratio |",
        "| --- |" + " ---: |" * (len(labels) + 1),
    ]
    for name in names:
        cells, cpu = [], {}
        for label in labels:
            cpu[label] = statistics.median(r["cpu"].get(name, 0.0) for r in results[label])
            cell = f"{cpu[label]:.2f}"
            if a.replica:
                cell += f" / {statistics.median(r['replica_cpu'].get(name, 0.0) for r in results[label]):.2f}"
            cells.append(cell)
        lowest = min(cpu[label] for label in others)
        ratio = lowest / cpu["sluice"] if cpu["sluice"] else float("nan")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sluice", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "sluice"))
    p.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server",
                   help="Debian's redis-server (7.0); '' leaves it out")
    p.add_argument("--anchor", action="append", default=[], metavar="LABEL=PATH",
                   help="another server binary to compare with (repeatable)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--requests", type=int, default=2_000_000)
    p.add_argument("--pipeline", type=int, default=16)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--tests", default=TESTS)
    p.add_argument("--replica", action="store_true", help="attach one replica to every master")
    p.add_argument("--output", help="also write the markdown table to this file")
    p.add_argument("--json", help="also write every round's figures to this file")
    a = p.parse_args()

    binaries = {"sluice": a.sluice}
    if a.redis:
        binaries["redis-7.0"] = a.redis
    for spec in a.anchor:
        label, sep, path = spec.partition("=")
        if not sep or not os.path.exists(path):
            print(f"skipping anchor {spec!r}: expected LABEL=PATH to an existing binary", file=sys.stderr)
            continue
        binaries[label] = path
    if len(binaries) < 2:
        sys.exit("nothing to compare sluice with")

    results = {label: [] for label in binaries}
    tests = a.tests.split(",")
    for round_index in range(a.rounds):
        got = run_round(binaries, tests, a, round_index)
        for label in binaries:
            results[label].append(got[label])
            print(f"# round {round_index + 1} {label}: "
                  + ", ".join(f"{k}={v:.0f}" for k, v in got[label]["rps"].items()), file=sys.stderr)

    text = table(results, a)
    print(text)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"replica": a.replica, "requests": a.requests, "pipeline": a.pipeline,
                       "clients": a.clients, "rounds": results,
                       "binaries": {label: os.path.basename(path) for label, path in binaries.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
