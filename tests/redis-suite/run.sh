#!/usr/bin/env bash
# Runs files of Redis's own Tcl test suite (tag 7.0.15, unmodified) against a server binary,
# to tell what sluice does as Redis does from what it does not.
#
#   tests/redis-suite/run.sh [SERVER_BIN] [FILE...]
#
# SERVER_BIN defaults to target/release/sluice; FILE defaults to the families of Redis 7.0
# that came after the core types (bitmaps, HyperLogLog, geo, SORT, DUMP, pub/sub, tracking,
# introspection). unit/* files run against one fresh server each (--host/--port); files
# the suite tags external:skip (and integration/*) run in its spawned mode, where it starts
# its own servers from a wrapper around SERVER_BIN. Run the same files with
# /usr/bin/redis-server to tell the suite's environment failures from the server's.
#
# The suite comes from REDIS_SUITE_DIR (a checkout of github.com/redis/redis at 7.0.15), or
# is cloned into target/redis-7.0.15 on first use. Needs tclsh 8.6 (Debian: tcl) and
# redis-cli on PATH. Prints one line per file (ok/err counts, seconds); exit 1 on any err.
# Logs go to $OUT (default target/redis-suite-out).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/release/sluice}; [ $# -gt 0 ] && shift
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(unit/bitops unit/bitfield unit/hyperloglog unit/geo unit/sort unit/dump unit/pubsub
         unit/pubsubshard unit/tracking unit/latency-monitor unit/introspection
         unit/introspection-2 unit/info)
fi
suite=${REDIS_SUITE_DIR:-$root/target/redis-7.0.15}
if [ ! -d "$suite/tests" ]; then
  git clone -q --depth 1 --branch 7.0.15 https://github.com/redis/redis "$suite" || exit 2
fi
out=${OUT:-$root/target/redis-suite-out}
timeout_s=${TIMEOUT_S:-300}
port=${PORT:-11900}
command -v tclsh8.6 >/dev/null || { echo "tclsh8.6 missing: apt-get install -y tcl"; exit 2; }
[ -x "$bin" ] || { echo "no server binary at $bin"; exit 2; }
mkdir -p "$out"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cp -r "$suite/runtest" "$suite/tests" "$tree/"
mkdir -p "$tree/src"
printf '#!/bin/sh\nexec %q "$@"\n' "$bin" > "$tree/src/redis-server"
chmod +x "$tree/src/redis-server"
for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  t=$(command -v $tool) && ln -s "$t" "$tree/src/$tool"
done
export TERM=dumb
total_ok=0 total_err=0
for name in "${files[@]}"; do
  log=$out/${name//\//_}.log
  start=$(date +%s)
  # A file whose every server is tagged external:skip can only run in spawned mode; so can
  # one whose outermost server is (the servers nested in it inherit the tag).
  servers=$(grep -c 'start_server' "$suite/tests/$name.tcl" 2>/dev/null || true)
  skipped=$(grep -c 'external:skip' "$suite/tests/$name.tcl" 2>/dev/null || true)
  outermost=$(grep -m1 'start_server' "$suite/tests/$name.tcl" 2>/dev/null || true)
  if [[ $name == unit/* && $skipped -lt $servers && $outermost != *external:skip* ]]; then
    d=$(mktemp -d)
    (cd "$d" && exec "$bin" --port $port --bind 127.0.0.1 --save "" --dir "$d" > "$log.server" 2>&1) &
    spid=$!
    for _ in $(seq 1 100); do redis-cli -p $port PING >/dev/null 2>&1 && break; sleep 0.1; done
    (cd "$tree" && timeout $timeout_s ./runtest --host 127.0.0.1 --port $port --clients 1 \
       --baseport 12000 --portcount 1000 --single "$name" --tags -needs:debug > "$log" 2>&1)
    kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$d"
  else
    (cd "$tree" && timeout $timeout_s ./runtest --clients 1 --baseport 12000 --portcount 1000 \
       --single "$name" --tags -needs:debug > "$log" 2>&1)
    rm -rf "$tree"/tests/tmp/*
  fi
  ok=$(grep -c '^\[ok\]' "$log"); err=$(grep -c '^\[err\]' "$log"); exc=$(grep -c '^\[exception\]' "$log")
  echo "$name: ok=$ok err=$err exception=$exc $(( $(date +%s) - start ))s"
  total_ok=$((total_ok + ok)); total_err=$((total_err + err + exc))
done
echo "total: ok=$total_ok err=$total_err"
[ "$total_err" = 0 ]
