#!/usr/bin/env python3
"""Runs one scenario of replbench.py for redis-server and for sluice in alternating rounds on
the same machine, and prints medians (with min and max) of every figure, and the ratio
sluice / redis-server, as a markdown table. Shared machines are noisy: only figures measured
in the same run are compared.

    python3 benches/replbench_compare.py steady --rounds 3
    python3 benches/replbench_compare.py restart --rounds 3 \\
        --sluice-args "--repl-log-fsync everysec" -- --more-writes 200000 --down-writes 10000

replbench.py is the replication benchmark harness these comparisons are run with; it is not
part of this repository: give its path with `--replbench` or the REPLBENCH environment
variable. Arguments after `--` go to replbench.py for both servers; `--sluice-args` go to sluice only
(as master and replica flags), `--redis-args` to redis-server only.
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def run_once(args, kind: str, port: int) -> dict:
    binary = args.sluice_bin if kind == "sluice" else args.redis_bin
    own = args.sluice_args if kind == "sluice" else args.redis_args
    cmd = [sys.executable, args.replbench, args.scenario, "--master-bin", binary,
           "--replica-bin", binary, "--port", str(port),
           "--workdir", os.path.join(args.workdir, kind)]
    if own:
        cmd += ["--master-args", own, "--replica-args", own]
    cmd += args.rest
    started = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    line = next((l for l in res.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{kind}: no RESULT line\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    fields["wall_s"] = f"{time.monotonic() - started:.2f}"
    print(f"  {kind:6} {line}", file=sys.stderr, flush=True)
    return fields


def write_json(args, keys, results) -> None:
    import json
    figures = {}
    for key in keys:
        r = [number(x[key]) for x in results["redis"]]
        s = [number(x[key]) for x in results["sluice"]]
        if None in r or None in s:
            figures[key] = {"redis": {"values": [x[key] for x in results["redis"]]},
                            "sluice": {"values": [x[key] for x in results["sluice"]]}}
            continue
        figures[key] = {
            "redis": {"rounds": r, "median": statistics.median(r)},
            "sluice": {"rounds": s, "median": statistics.median(s)},
        }
    with open(args.json, "w") as f:
        json.dump({"label": args.label or args.scenario, "scenario": args.scenario,
                   "replbench_args": args.rest, "sluice_args": args.sluice_args,
                   "rounds": args.rounds, "figures": figures}, f, indent=1)


def number(text: str):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sluice-bin", default=os.path.join(REPO, "target", "release", "sluice"))
    ap.add_argument("--redis-bin", default="/usr/bin/redis-server")
    ap.add_argument("--sluice-args", default="")
    ap.add_argument("--redis-args", default="")
    ap.add_argument("--replbench", default=os.environ.get("REPLBENCH"),
                    help="path of replbench.py (default: $REPLBENCH)")
    ap.add_argument("--workdir", default="/tmp/replbench-compare")
    ap.add_argument("--port", type=int, default=7100)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", help="also write every figure (all rounds, medians) to this file")
    ap.add_argument("--label", default="", help="name of this comparison in the JSON")
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    args = ap.parse_args(argv)
    args.rest = rest
    if not args.replbench or not os.path.isfile(args.replbench):
        sys.exit("replbench.py not found: pass --replbench PATH or set REPLBENCH")
    results = {"redis": [], "sluice": []}
    for round_no in range(args.rounds):
        order = ["redis", "sluice"] if round_no % 2 == 0 else ["sluice", "redis"]
        print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for kind in order:
            results[kind].append(run_once(args, kind, args.port + 10 * round_no))
    keys = [k for k in results["sluice"][0] if k in results["redis"][0]]
    if args.json:
        write_json(args, keys, results)
    print(f"\n`replbench.py {args.scenario} {shlex.join(args.rest)}`"
          f" (sluice args: `{args.sluice_args}`), {args.rounds} alternating rounds\n")
    print("| figure | redis-server median (min–max) | sluice median (min–max) | sluice / redis |")
    print("| --- | --- | --- | --- |")
    for key in keys:
        r = [number(x[key]) for x in results["redis"]]
        s = [number(x[key]) for x in results["sluice"]]
        if None in r or None in s:
            rv = ", ".join(sorted(set(x[key] for x in results["redis"])))
            sv = ", ".join(sorted(set(x[key] for x in results["sluice"])))
            print(f"| {key} | {rv} | {sv} | |")
            continue
        rm, sm = statistics.median(r), statistics.median(s)
        ratio = f"{sm / rm:.2f}" if rm else ""
        print(f"| {key} | {rm:.4g} ({min(r):.4g}–{max(r):.4g}) | "
              f"{sm:.4g} ({min(s):.4g}–{max(s):.4g}) | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
