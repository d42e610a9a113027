#!/usr/bin/env python3
"""PNG charts of the runs beside the anchors: grouped bars of medians, with min–max whiskers.

    python3 benches/anchor_charts.py commands tuning/results/<run>/no_replica.json [more.json]
    python3 benches/anchor_charts.py fullsync tuning/results/<run>/runs.json

`commands` reads compare_commands.py's --json files and draws requests/s and CPU µs per
request per command (one PNG per file, next to it); `fullsync` reads fullsync_anchors.py's
--json file and draws the sync seconds per mode. Needs matplotlib (`pip install matplotlib`).
"""

import json
import os
import statistics
import sys


def grouped(ax, groups, series, values, ylabel, title):
    """Bars per group (x) and series (colour); values[(group, series)] is a list of rounds."""
    width = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        xs, heights, low, high = [], [], [], []
        for g, group in enumerate(groups):
            vs = values.get((group, name)) or []
            if not vs:
                continue
            med = statistics.median(vs)
            xs.append(g + (i - (len(series) - 1) / 2) * width)
            heights.append(med)
            low.append(med - min(vs))
            high.append(max(vs) - med)
        ax.bar(xs, heights, width, label=name, yerr=[low, high], capsize=2)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")


def commands(paths, plt):
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        labels = list(run["rounds"])
        tests = list(run["rounds"]["sluice"][0]["rps"])
        mode = "one replica each" if run.get("replica") else "no replica"
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8))
        for ax, field, ylabel in ((top, "rps", "requests/s"), (bottom, "cpu", "master CPU µs per request")):
            values = {(t, label): [r[field].get(t, 0.0) for r in run["rounds"][label]]
                      for t in tests for label in labels}
            grouped(ax, tests, labels, values, ylabel,
                    f"redis-benchmark -P {run['pipeline']}, {mode}: {ylabel} (median; bars: min–max)")
        fig.tight_layout()
        out = os.path.splitext(path)[0] + ".png"
        fig.savefig(out, dpi=100)
        print(out)


def fullsync(path, plt):
    with open(path) as f:
        run = json.load(f)
    labels = list(run["servers"])
    modes = ["diskless" if m == "yes" else "disk" for m in run["modes"]]
    values = {}
    for r in run["runs"]:
        if r.get("status") != "ok":
            continue
        mode = "diskless" if r["diskless"] == "yes" else "disk"
        field = "total_s" if run.get("scenario") == "multi" else "sync_s"
        values.setdefault((mode, r["label"]), []).append(float(r[field]))
    fig, ax = plt.subplots(figsize=(8, 5))
    scenario = run.get("scenario", "fullsync")
    who = "three replicas" if scenario == "multi" else "one replica"
    grouped(ax, modes, labels, values, "seconds",
            f"full sync of {run['keys']} keys, {who} (median; bars: min–max)")
    fig.tight_layout()
    out = os.path.join(os.path.dirname(path), f"{scenario}_seconds.png")
    fig.savefig(out, dpi=100)
    print(out)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("commands", "fullsync"):
        sys.exit(__doc__)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("matplotlib is not installed: pip install matplotlib")
    if sys.argv[1] == "commands":
        commands(sys.argv[2:], plt)
    else:
        fullsync(sys.argv[2], plt)


if __name__ == "__main__":
    main()
