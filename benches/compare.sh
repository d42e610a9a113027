#!/usr/bin/env bash
# Side-by-side comparison with redis-server on this machine: builds sluice, runs the
# replbench.py scenarios for both servers in alternating rounds, and writes a markdown table
# (medians, min–max, ratios) and PNG charts into tuning/results/<date>-<time>/.
#
#   benches/compare.sh                 # the full run: 1M x 1000-byte keys, 3 rounds
#   QUICK=1 benches/compare.sh         # a few minutes: 100k keys, 1 round
#   SCENARIOS="fullsync steady" benches/compare.sh
#   SCENARIOS=steady_always benches/compare.sh   # SET throughput with every reply fsynced
#
# Needs REPLBENCH (the path of the replbench.py harness, which is not part of this repository),
# redis-server and redis-benchmark (apt-get install redis-server redis-tools),
# tc/ip for slowlink (run as root), and matplotlib for the charts (pip install matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${REPLBENCH:?set REPLBENCH to the path of replbench.py}"
export REPLBENCH

if [[ -n "${QUICK:-}" ]]; then
    ROUNDS=${ROUNDS:-1}; KEYS=${KEYS:-100000}; MULTI_KEYS=${MULTI_KEYS:-50000}
    SLOW_KEYS=${SLOW_KEYS:-30000}; REQUESTS=${REQUESTS:-300000}
else
    ROUNDS=${ROUNDS:-3}; KEYS=${KEYS:-1000000}; MULTI_KEYS=${MULTI_KEYS:-500000}
    SLOW_KEYS=${SLOW_KEYS:-200000}; REQUESTS=${REQUESTS:-1000000}
fi
SCENARIOS=${SCENARIOS:-"fullsync multi restart steady steady_always slowlink"}
OUT=tuning/results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

cargo build --release --bin sluice
{
    echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "redis-server: $(redis-server --version)"
    echo "sluice: $(git rev-parse --short HEAD)"
} > "$OUT/machine.txt"

compare() {
    local label=$1; shift
    echo "== $label" >&2
    python3 benches/replbench_compare.py --rounds "$ROUNDS" --label "$label" \
        --json "$OUT/$label.json" "$@" >> "$OUT/tables.md"
}

for scenario in $SCENARIOS; do
    case $scenario in
        fullsync)
            compare fullsync_diskless fullsync -- --diskless yes --keys "$KEYS" --collections 0
            compare fullsync_disk fullsync -- --diskless no --keys "$KEYS" --collections 0 ;;
        multi)
            compare multi_disk multi -- --diskless no --keys "$MULTI_KEYS"
            compare multi_diskless multi -- --diskless yes --keys "$MULTI_KEYS" \
                --master-args "--repl-diskless-sync-max-replicas 3" ;;
        restart)
            compare restart restart -- --methods kill9,shutdown --keys "$MULTI_KEYS" \
                --more-writes 200000 --down-writes 10000 ;;
        steady)
            compare steady steady -- --requests "$REQUESTS" ;;
        steady_always)
            # Every reply after its fsync: sluice's group commit beside redis-server's AOF.
            compare steady_always steady --sluice-args "--repl-log-fsync always" \
                --redis-args "--appendonly yes --appendfsync always" -- --requests "$REQUESTS" ;;
        slowlink)
            compare slowlink slowlink -- --keys "$SLOW_KEYS" ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
done
python3 benches/charts.py "$OUT"
echo "results in $OUT" >&2
