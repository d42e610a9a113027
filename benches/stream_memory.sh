#!/usr/bin/env bash
# Memory per stream entry: RSS growth of a server after N small XADDs (`sensor <0..4> value
# <int>`, IDs from the clock), for sluice and each server named as LABEL=PATH, alternating
# rounds.
#
#   benches/stream_memory.sh [LABEL=PATH ...]     e.g. redis-8.6=/opt/redis-8.6.3/bin/redis-server
#
# Environment: N (entries, default 300000), ROUNDS (default 2), SLUICE (default
# target/release/sluice). redis-server from PATH is always measured. Loopback ports 7881+.
set -euo pipefail
N=${N:-300000}
ROUNDS=${ROUNDS:-2}
SLUICE=${SLUICE:-target/release/sluice}
servers=("sluice=$SLUICE" "redis-server=$(command -v redis-server)" "$@")
payload=$(mktemp)
trap 'rm -f "$payload"' EXIT
python3 - "$N" > "$payload" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    a = ["XADD", "s", "*", "sensor", str(i % 5), "value", str(i * 3)]
    out.write("*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a))
PY
measure() {
  local label=$1 bin=$2 port=$3 dir pid base rss len
  dir=$(mktemp -d)
  # Absolute, but not resolved: Debian's redis-server is a link whose name matters.
  case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
  (cd "$dir" && exec "$bin" --port "$port" --bind 127.0.0.1 --save '' --dir "$dir" >/dev/null 2>&1) &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  base=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  redis-cli -p "$port" --pipe < "$payload" >/dev/null
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  len=$(redis-cli -p "$port" XLEN s)
  echo "$label entries=$len rss_growth_kb=$((rss - base)) bytes_per_entry=$(( (rss - base) * 1024 / len ))"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
for round in $(seq "$ROUNDS"); do
  port=7881
  for entry in "${servers[@]}"; do
    measure "${entry%%=*}" "${entry#*=}" "$port"
    port=$((port + 1))
  done
done
