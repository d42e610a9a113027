#!/bin/bash
# Memory of a sluice master as its durable log grows: N SETs of 1000-byte values over 100k
# keys, twice, with INFO memory, RSS and the log's size on disk after each run.
#   BIN=target/release/sluice N=1000000 benches/memory_with_log.sh
#   NODUR=1 ...           the same server without the durable log
#   EXTRA="--repl-backlog-size 3gb" ...   keep more log
# Needs redis-cli and redis-benchmark. Loopback only.
set -u
BIN=${BIN:-target/release/sluice}
N=${N:-1000000}
ARGS=(--repl-log-hot-size 1mb ${EXTRA:-})
[ -n "${NODUR:-}" ] && ARGS=(--repl-log-dir "" --repl-backlog-size 1mb)
port=$((7200 + RANDOM % 500))
d=$(mktemp -d /tmp/sluice-bench-mem.XXXX)
"$BIN" --port $port --save "" --dir "$d" "${ARGS[@]}" >"$d/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$d"' EXIT
for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
measure() {
  echo "$1: $(redis-cli -p $port info memory | grep -E '^used_memory:' | tr -d '\r')" \
    "rss_mb=$(($(awk '/VmRSS/{print $2}' /proc/$pid/status) / 1024))" \
    "$(redis-cli -p $port info replication | grep -E '^repl_log_disk_bytes' | tr -d '\r')" \
    "du_mb=$(du -sm "$d" | cut -f1)"
}
measure start
for round in 1 2; do
  redis-benchmark -p $port -t set -P 16 -c 50 -n "$N" -r 100000 -d 1000 -q >/dev/null 2>&1
  sleep 2
  measure "after $round x $N SETs"
done
