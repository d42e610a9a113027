#!/usr/bin/env bash
# Start-up load of a dump of small collections, sluice against redis-server, alternating.
#
# Builds the `fullsync` bench's collections dataset (hashes, sets and sorted sets of 20
# members, one key per ~400 bytes of commands) in a sluice master, saves it, then loads that
# one RDB file ROUNDS times in each server in turn and prints the load time each server logs
# and the memory it holds afterwards. A second sluice binary (OTHER=path) joins the rotation,
# to compare a change with the binary before it.
#
#   benches/load_collections.sh                      # 268 MB of commands, 3 rounds
#   KEYS=2680000 ROUNDS=5 OTHER=/tmp/sluice.old benches/load_collections.sh
set -euo pipefail

cd "$(dirname "$0")/.."
KEYS=${KEYS:-670000}
ROUNDS=${ROUNDS:-3}
SLUICE=${SLUICE:-target/release/sluice}
OTHER=${OTHER:-}
PORT=${PORT:-7291}
WORK=$(mktemp -d /tmp/sluice-load-XXXXXX)
trap 'redis-cli -p $PORT shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

[ -x "$SLUICE" ] || cargo build --release >/dev/null

python3 - "$KEYS" > "$WORK/commands.resp" <<'PY'
import sys
out = sys.stdout.buffer
members = [f"member-{m:04d}" for m in range(20)]
def command(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
for i in range(int(sys.argv[1])):
    key = f"coll:{i:010d}"
    if i % 3 == 0:
        args = ["HSET", key]
        for m in members:
            args += [m, str(i)]
    elif i % 3 == 1:
        args = ["SADD", key] + members
    else:
        args = ["ZADD", key]
        for score, m in enumerate(members):
            args += [str(score), m]
    command(args)
PY

wait_ready() {
    for _ in $(seq 1 1200); do
        redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    echo "server on $PORT did not come up" >&2
    return 1
}

memory() {
    redis-cli -p "$PORT" info memory | tr -d '\r' |
        awk -F: '/^used_memory:/{u=$2} /^used_memory_rss:/{r=$2} END{printf "%.0f MB used, %.0f MB RSS", u/1e6, r/1e6}'
}

sluice_args=(--port "$PORT" --dir "$WORK/data" --save "" --repl-log-dir "")
redis_args=(--port "$PORT" --dir "$WORK/data" --dbfilename dump.rdb --save "")

mkdir -p "$WORK/data"
"$SLUICE" "${sluice_args[@]}" >"$WORK/master.log" 2>&1 &
wait_ready
redis-cli -p "$PORT" --pipe <"$WORK/commands.resp" >/dev/null
redis-cli -p "$PORT" save >/dev/null
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
sleep 0.5
RDB="$WORK/data/dump.rdb"
echo "dump: $(stat -c %s "$RDB") bytes, $KEYS keys"

# Starts a server (the command after the name) on the dump, prints the load time it logs
# and the memory it then holds, and stops it.
load() {
    local name=$1 secs
    shift
    "$@" >"$WORK/server.log" 2>&1 &
    wait_ready
    secs=$(grep -o 'DB loaded from disk: [0-9.]* seconds' "$WORK/server.log" | awk '{print $5}')
    echo "$name: load ${secs}s, $(memory)"
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait
}

for round in $(seq 1 "$ROUNDS"); do
    echo "round $round"
    load sluice "$SLUICE" "${sluice_args[@]}"
    [ -n "$OTHER" ] && load other "$OTHER" "${sluice_args[@]}"
    load redis-server redis-server "${redis_args[@]}"
done
