#!/usr/bin/env bash
# A highly available sluice on one machine, to try failover: a master (6379), two replicas
# (6380, 6381) and three redis-sentinels (26379-26381), all on 127.0.0.1, data under
# ./ha-demo. Stop everything with: tuning/sentinel/start-local.sh stop
# (redis-sentinel renames its process, so match by the pids recorded in ha-demo/pids).
#
#   cargo build --release && tuning/sentinel/start-local.sh
#   redis-cli -p 26379 SENTINEL get-master-addr-by-name mymaster    # where to write
#   redis-cli -p 26379 SENTINEL replicas mymaster                   # where to read
#   kill -9 "$(redis-cli -p 6379 INFO server | sed -n "s/^process_id://p" | tr -d "\r")"   # watch a failover
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="${SLUICE:-$here/../../target/release/sluice}"
root="${HA_DEMO_DIR:-$PWD/ha-demo}"
mkdir -p "$root"

if [ "${1:-}" = stop ]; then
    [ -f "$root/pids" ] && xargs -r kill < "$root/pids" 2>/dev/null || true
    rm -f "$root/pids"
    exit 0
fi

start_node() {
    local port=$1; shift
    mkdir -p "$root/$port"
    # A config file per node, so that CONFIG REWRITE (sent by Sentinel with every
    # promotion) keeps each node's role across restarts.
    [ -f "$root/$port/sluice.conf" ] || printf 'port %s\nbind 127.0.0.1\ndir %s\n%s\n' \
        "$port" "$root/$port" "$*" > "$root/$port/sluice.conf"
    "$sluice" "$root/$port/sluice.conf" > "$root/$port/sluice.log" 2>&1 &
    echo $! >> "$root/pids"
}

start_node 6379 ""
start_node 6380 "replicaof 127.0.0.1 6379"
start_node 6381 "replicaof 127.0.0.1 6379"
sleep 1

for port in 26379 26380 26381; do
    mkdir -p "$root/$port"
    [ -f "$root/$port/sentinel.conf" ] || sed -e "s/^port 26379/port $port/" \
        -e "s#^dir .*#dir $root/$port#" "$here/sentinel.conf" > "$root/$port/sentinel.conf"
    redis-sentinel "$root/$port/sentinel.conf" > "$root/$port/sentinel.log" 2>&1 &
    echo $! >> "$root/pids"
done
echo "master 6379, replicas 6380 6381, sentinels 26379-26381; logs under $root"
