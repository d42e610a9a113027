#!/usr/bin/env bash
# Memory per stream entry: N small XADDs (`sensor <0..4> value <int>`, IDs from the clock)
# into one stream, against a control run of the same XADDs with `MAXLEN = 1` (the stream
# stays one entry), for sluice and each server named as LABEL=PATH, alternating rounds.
# The control cancels what the replication backlog or log holds of the commands: what is
# left is the stream's own memory. Both `used_memory` and RSS are reported.
#
#   benches/stream_memory.sh [LABEL=PATH ...]     e.g. redis-8.6=/opt/redis-8.6.3/bin/redis-server
#
# Environment: N (entries, default 300000), ROUNDS (default 2), SLUICE (default
# target/release/sluice). redis-server from PATH is always measured. Loopback ports 7881+.
# sluice runs with `repl-log-hot-size 1mb`, the size of Redis's default backlog.
set -euo pipefail
N=${N:-300000}
ROUNDS=${ROUNDS:-2}
SLUICE=${SLUICE:-target/release/sluice}
servers=("sluice=$SLUICE" "redis-server=$(command -v redis-server)" "$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$N" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
for name, trim in (("data", []), ("control", ["MAXLEN", "=", "1"])):
    with open(f"{work}/{name}", "w") as out:
        for i in range(n):
            a = ["XADD", "s"] + trim + ["*", "sensor", str(i % 5), "value", str(i * 3)]
            out.write("*%d\r\n" % len(a) + "".join("$%d\r\n%s\r\n" % (len(x), x) for x in a))
PY
# Prints "<used_memory growth> <rss growth kb> <XLEN>" after loading payload $4.
load() {
  local label=$1 bin=$2 port=$3 payload=$4 dir pid extra=() base_rss base_used rss used len
  dir=$(mktemp -d)
  # Absolute, but not resolved: Debian's redis-server is a link whose name matters.
  case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
  [ "$label" = sluice ] && extra=(--repl-log-hot-size 1mb)
  (cd "$dir" && exec "$bin" --port "$port" --bind 127.0.0.1 --save '' --dir "$dir" "${extra[@]}" >/dev/null 2>&1) &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  used_memory() { redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
  base_rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  base_used=$(used_memory)
  redis-cli -p "$port" --pipe < "$payload" >/dev/null
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  used=$(used_memory)
  len=$(redis-cli -p "$port" XLEN s)
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "$((used - base_used)) $((rss - base_rss)) $len"
}
for round in $(seq "$ROUNDS"); do
  port=7881
  for entry in "${servers[@]}"; do
    label=${entry%%=*} bin=${entry#*=}
    read -r used_d rss_d len < <(load "$label" "$bin" "$port" "$work/data")
    read -r used_c rss_c _ < <(load "$label" "$bin" "$port" "$work/control")
    echo "$label round=$round entries=$len" \
      "used_memory_bytes_per_entry=$(( (used_d - used_c) / len ))" \
      "rss_bytes_per_entry=$(( (rss_d - rss_c) * 1024 / len ))" \
      "(data: used_memory +$used_d rss +${rss_d}kB; control: used_memory +$used_c rss +${rss_c}kB)"
    port=$((port + 1))
  done
done
