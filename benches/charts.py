#!/usr/bin/env python3
"""Turns the JSON files of a comparison run (benches/compare.sh) into one markdown table of
medians, min–max and ratios, and PNG charts: full-sync seconds by mode, and throughput by
scenario, sluice beside redis-server.

    python3 benches/charts.py tuning/results/<run>

Needs matplotlib for the charts (`pip install matplotlib`); without it the table is still
written and the charts are skipped with a message.
"""

import glob
import json
import os
import sys

# (label in the JSON, figure, what it is, higher is better)
FIGURES = [
    ("fullsync_diskless", "sync_s", "full sync, diskless (s)", False),
    ("fullsync_disk", "sync_s", "full sync, disk (s)", False),
    ("multi_disk", "total_s", "3 replicas, disk (s)", False),
    ("multi_diskless", "total_s", "3 replicas, diskless (s)", False),
    ("restart", "kill9_resync_s", "replica restart after kill -9 (s)", False),
    ("restart", "kill9_sync", "resync after kill -9 (kind)", None),
    ("steady", "ops_1", "SET ops/s with a replica", True),
    ("slowlink", "text_sync_s", "100 Mbit/s, text values (s)", False),
    ("slowlink", "random_sync_s", "100 Mbit/s, random values (s)", False),
]


def load(run_dir):
    runs = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "*.json"))):
        with open(path) as f:
            data = json.load(f)
        runs[data["label"]] = data
    return runs


def rows(runs):
    out = []
    for label, figure, title, higher in FIGURES:
        data = runs.get(label)
        if not data or figure not in data["figures"]:
            continue
        fig = data["figures"][figure]
        if "median" not in fig["redis"]:
            continue
        out.append((label, figure, title, higher, fig["redis"], fig["sluice"], data))
    return out


def table(runs):
    lines = ["| figure | redis-server median (min–max) | sluice median (min–max) | sluice / redis | rounds |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for label, figure, title, _, r, s, data in rows(runs):
        ratio = s["median"] / r["median"] if r["median"] else float("nan")
        lines.append(
            f"| {title} | {r['median']:.4g} ({min(r['rounds']):.4g}–{max(r['rounds']):.4g}) | "
            f"{s['median']:.4g} ({min(s['rounds']):.4g}–{max(s['rounds']):.4g}) | "
            f"{ratio:.2f} | {data['rounds']} |")
    for label, figure, title, _ in FIGURES:
        fig = runs.get(label, {}).get("figures", {}).get(figure)
        if fig and "values" in fig["redis"]:
            lines.append(f"| {title} | {', '.join(fig['redis']['values'])} | "
                         f"{', '.join(fig['sluice']['values'])} | | {runs[label]['rounds']} |")
    lines.append("")
    lines.append("Commands (replbench.py arguments per label):")
    lines.append("")
    for label, data in sorted(runs.items()):
        extra = f", sluice `{data['sluice_args']}`" if data.get("sluice_args") else ""
        lines.append(f"- `{label}`: `{data['scenario']} {' '.join(data['replbench_args'])}`{extra}")
    return "\n".join(lines) + "\n"


def charts(runs, run_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no PNG charts (pip install matplotlib)", file=sys.stderr)
        return
    selected = rows(runs)
    seconds = [x for x in selected if x[3] is False]
    rates = [x for x in selected if x[3] is True]
    for name, group, ylabel in (("fullsync_seconds.png", seconds, "seconds (median; bars: min–max)"),
                                ("throughput.png", rates, "per second (median; bars: min–max)")):
        if not group:
            continue
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(group)), 4.5))
        width = 0.38
        for i, (_, _, title, _, r, s, _) in enumerate(group):
            for offset, series, color, kind in ((-width / 2, r, "#c0392b", "redis-server"),
                                                (width / 2, s, "#2471a3", "sluice")):
                lo, hi = min(series["rounds"]), max(series["rounds"])
                ax.bar(i + offset, series["median"], width, color=color,
                       yerr=[[series["median"] - lo], [hi - series["median"]]], capsize=3,
                       label=kind if i == 0 else None)
        ax.set_xticks(range(len(group)))
        ax.set_xticklabels([g[2] for g in group], rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(run_dir, name), dpi=110)
        plt.close(fig)
        print(f"wrote {os.path.join(run_dir, name)}", file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir = sys.argv[1]
    runs = load(run_dir)
    if not runs:
        print(f"no JSON results in {run_dir}", file=sys.stderr)
        return 1
    with open(os.path.join(run_dir, "results.md"), "w") as f:
        f.write(table(runs))
    print(table(runs))
    charts(runs, run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
