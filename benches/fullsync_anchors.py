#!/usr/bin/env python3
"""Full sync (one replica, or several with --scenario multi), sluice beside Redis 7.0 and any
anchors, in rotating rounds.

Each round runs replbench.py's `fullsync` scenario (1M × 1000-byte strings by default) for every
server and mode, master and replica of the same kind, the order rotating by round so that a slow
phase of this shared machine does not fall on one server only. Prints (and with --output writes)
a markdown table of medians (min–max) of the sync seconds and the master's peak RSS, with the
ratio of sluice to the fastest of the others; --json keeps every RESULT line.

    python3 benches/fullsync_anchors.py --replbench PATH/replbench.py --rounds 3 \\
        --anchor redis-8.6=ANCHORS/redis-8.6.3/bin/redis-server \\
        --anchor valkey-9.1=ANCHORS/valkey-9.1.2/bin/valkey-server

Each kind syncs the way its users would run it fast: Redis 8 with its default rdb channel,
Valkey with `dual-channel-replication-enabled yes`, and every anchor's replica with
`repl-diskless-load swapdb` (which Redis 8 pairs with an uncompressed RDB); sluice with its
defaults. It builds nothing: build sluice first (`cargo build --release`).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys


def flags_for(label):
    """(master args, replica args) for a server kind, by its label."""
    if label == "sluice":
        return "", ""
    if label.startswith("valkey"):
        both = "--dual-channel-replication-enabled yes"
        return both, both + " --repl-diskless-load swapdb"
    return "", "--repl-diskless-load swapdb"


def run_one(replbench, label, binary, mode, a):
    master_args, replica_args = flags_for(label)
    extra = []
    if a.scenario == "multi":
        extra = ["--replicas", str(a.replicas)]
        if mode == "yes":
            # Every server waits for all the replicas and serves them from one transfer.
            master_args = f"{master_args} --repl-diskless-sync-max-replicas {a.replicas}".strip()
    if a.elements:
        extra += ["--elements", str(a.elements)]
    for name in ("sluice", "redis-server", "valkey-server"):
        subprocess.run(["pkill", "-9", "-x", name], check=False)
    cmd = [sys.executable, replbench, a.scenario, "--master-bin", binary, "--replica-bin", binary,
           "--master-args", master_args, "--replica-args", replica_args, "--diskless", mode,
           "--keys", str(a.keys), "--collections", str(a.collections)] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800).stdout
    result = next((line for line in out.splitlines() if line.startswith("RESULT")), "")
    fields = dict(part.split("=", 1) for part in result.split()[1:] if "=" in part)
    print(f"# {label} diskless={mode}: {result}", file=sys.stderr)
    return fields


def table(labels, modes, runs, rounds, keys, scenario="fullsync", collections=0):
    """The markdown table of a run's RESULT fields."""
    def values(label, mode, field):
        out = []
        for r in runs:
            if r["label"] == label and r["diskless"] == mode and r.get("status") == "ok":
                try:
                    out.append(float(r[field]))
                except (KeyError, ValueError):
                    pass
        return out

    def cell(vs, fmt):
        if not vs:
            return "failed"
        return f"{statistics.median(vs):{fmt}} ({min(vs):{fmt}}–{max(vs):{fmt}})"

    seconds = "total_s" if scenario == "multi" else "sync_s"
    dataset = f"{keys} keys × 1000 B" + (f" and {collections} collections" if collections else "")
    lines = [f"replbench.py {scenario}, {dataset}, {rounds} rotating rounds; "
             "median (min–max); ratio = sluice / the fastest of the others", "",
             "| mode | figure | " + " | ".join(labels) + " | ratio |",
             "| --- | --- |" + " ---: |" * (len(labels) + 1)]
    for mode in modes:
        name = "diskless" if mode == "yes" else "disk"
        for field, title, fmt in ((seconds, "seconds", ".2f"), ("master_peak_rss_mb", "master peak RSS MB", ".0f")):
            cells = [cell(values(label, mode, field), fmt) for label in labels]
            medians = {label: statistics.median(v) for label in labels if (v := values(label, mode, field))}
            others = [m for label, m in medians.items() if label != "sluice"]
            ratio = (f"{medians['sluice'] / min(others):.2f}"
                     if "sluice" in medians and others and min(others) > 0 else "")
            lines.append(f"| {name} | {title} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replbench", default=os.environ.get("REPLBENCH"), help="path of replbench.py")
    p.add_argument("--sluice", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "sluice"))
    p.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server",
                   help="Debian's redis-server (7.0); '' leaves it out")
    p.add_argument("--anchor", action="append", default=[], metavar="LABEL=PATH")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", default="yes,no", help="diskless modes to run: yes, no or both")
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--collections", type=int, default=0)
    p.add_argument("--elements", type=int, default=0, help="elements per collection (replbench's default if 0)")
    p.add_argument("--scenario", choices=("fullsync", "multi"), default="fullsync",
                   help="multi: --replicas replicas attaching together, seconds until all hold every key")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--output")
    p.add_argument("--json")
    p.add_argument("--summarize", metavar="JSON", help="only print the table of a run's --json file")
    a = p.parse_args()
    if a.summarize:
        with open(a.summarize) as f:
            saved = json.load(f)
        print(table(list(saved["servers"]), saved["modes"], saved["runs"], saved["rounds"], saved["keys"],
                    saved.get("scenario", "fullsync"), saved.get("collections", 0)))
        return
    if not a.replbench or not os.path.exists(a.replbench):
        sys.exit("give --replbench (or REPLBENCH): the path of replbench.py")

    servers = {"sluice": a.sluice}
    if a.redis:
        servers["redis-7.0"] = a.redis
    for spec in a.anchor:
        label, sep, path = spec.partition("=")
        if sep and os.path.exists(path):
            servers[label] = path
        else:
            print(f"skipping anchor {spec!r}: expected LABEL=PATH to an existing binary", file=sys.stderr)

    labels = list(servers)
    modes = a.modes.split(",")
    runs = []
    for round_index in range(a.rounds):
        shift = round_index % len(labels)
        for mode in modes:
            for label in labels[shift:] + labels[:shift]:
                fields = run_one(a.replbench, label, servers[label], mode, a)
                runs.append({"round": round_index + 1, "label": label, "diskless": mode, **fields})

    text = table(labels, modes, runs, a.rounds, a.keys, a.scenario, a.collections)
    print(text)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    if a.json:
        with open(a.json, "w") as f:
            names = {label: os.path.basename(path) for label, path in servers.items()}
            json.dump({"servers": names, "modes": modes, "rounds": a.rounds, "keys": a.keys,
                       "collections": a.collections, "scenario": a.scenario, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
