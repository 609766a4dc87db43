#!/usr/bin/env bash
# The PostgreSQL push row of timings.sh on its own, for A/B pairs: one demo node and one throwaway
# PostgreSQL cluster with ROWS rows, then ROUNDS rounds; each round runs `psql \copy TO` and a push
# by every client folder given, in turn (A B A B …, the order flipped every other round so neither
# always follows psql). Prints per push: wall, the client's CPU (user+system), the node's CPU over
# the push (/proc/<pid>/stat), psql's wall beside it, the ratio, and the 1-minute load average.
#   benchmarks/cli/pg-push-pairs.sh ROWS ROUNDS NODE_FOLDER CLIENT_FOLDER…   (from the repository root)
# Each folder is a publish (the department tool's, the image's) or a build output; each is copied
# first so a build during the run does not replace it. GOVSHARE_TRACE=1 passes through (phase marks,
# printed to stderr). PROFILE_DIR=<folder>: after the rounds, each client pushes PROFILE_RUNS (3)
# more times under `perf record -g` (the client; with the node from a JIT publish, the node too, its
# JIT frames named by DOTNET_PerfMapEnabled) into that folder.
set -euo pipefail
rows=$1; rounds=$2; node_dir=$3; shift 3
port=${PORT:-19991}
work=$(mktemp -d); chmod 755 "$work"
here=$(cd "$(dirname "$0")" && pwd)
runner() { # folder → the command that runs its govshare
  if grep -qs includedFrameworks "$1/govshare.runtimeconfig.json" || [ ! -f "$1/govshare.dll" ]; then echo "$1/govshare"; else echo "dotnet $1/govshare.dll"; fi; }
cp -r "$node_dir" "$work/node-cli"; N=$(runner "$work/node-cli")
clients=(); i=0
for c in "$@"; do cp -r "$c" "$work/cli$i"; clients+=("$(runner "$work/cli$i")"); i=$((i+1)); done
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
cleanup() { kill -TERM "${node_pid:-0}" 2>/dev/null || true; wait "${node_pid:-0}" 2>/dev/null || true
  [ -d "$work/pg" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

if [ -n "${PROFILE_DIR:-}" ]; then export DOTNET_PerfMapEnabled=1; fi
(cd "$work" && exec $N demo --folder "$work/demo" --port "$port" --management-port $((port+1)) > "$work/demo.log" 2>&1) & node_pid=$!
for _ in $(seq 1 240); do grep -q ready "$work/demo.log" && break; sleep 0.5; done
unset DOTNET_PerfMapEnabled
PKI=$work/demo/pki
mkdir -p "$work/provider"; cd "$work/provider"
printf '{ "node": "https://localhost:%s/", "certificate": "%s.crt", "key": "%s.key", "ca": "%s", "purpose": "timing" }\n' \
  "$port" "$PKI/issued/dept-530100-11530100MB00000118" "$PKI/issued/dept-530100-11530100MB00000118" "$PKI/trust-anchors.pem" > govshare.department.json
# The same resource, data and mapping as timings.sh.
cp "$here/timings-entry.json" entry.json
${clients[0]} catalog create --file entry.json > /dev/null
python3 - "$rows" <<'P'
import sys, datetime
n = int(sys.argv[1]); start = datetime.datetime(2026, 3, 1, 8, 30)
with open("data-utf8.csv", "w", encoding="utf-8", newline="") as f:
    f.write("统一社会信用代码,企业名称,注册资本,从业人数,成立日期,更新时间\r\n")
    for i in range(1, n + 1):
        f.write(f"91530100MA{i:08d},云南测试企业{i}号,{i}.{i % 100:02d},{i % 5000},{datetime.date(2000, 1, 1) + datetime.timedelta(days=i % 9000)},{start + datetime.timedelta(seconds=i)}\r\n")
P
cp "$here/timings-mapping.json" mapping.json
mkdir "$work/pg"; chown postgres "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync -E UTF8 --locale=C > /dev/null
pg_port=$((port+2))
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start > /dev/null
PG="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=false"
psqlc() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qAt "$@"; }
psqlc -c 'CREATE TABLE enterprises ("统一社会信用代码" text, "企业名称" text, "注册资本" numeric(18,2), "从业人数" integer, "成立日期" date, "更新时间" timestamptz)'
psqlc -c "SET TIME ZONE 'Asia/Shanghai'" -c "\\copy enterprises FROM '$work/provider/data-utf8.csv' WITH (FORMAT csv, HEADER true)"
psqlc -c 'VACUUM ANALYZE enterprises'

ticks=$(getconf CLK_TCK)
node_cpu() { awk -v t="$ticks" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$node_pid/stat"; }
# t CMD…: wall seconds on stdout; the command's CPU (user+system) in $work/cpu, its minor page faults in $work/faults
t() { local s e; s=$(date +%s.%N)
  /usr/bin/time -f '%U %S %R' -o "$work/last.time" "$@" > "$work/last.out" 2> "$work/last.err" || { echo "failed: $*" >&2; cat "$work/last.out" "$work/last.err" >&2; exit 1; }
  e=$(date +%s.%N); awk '{ printf "%.3f", $1 + $2 }' "$work/last.time" > "$work/cpu"; awk '{ print $3 }' "$work/last.time" > "$work/faults"; printf '%.3f' "$(echo "$e - $s" | bc)"; }
push() { ${clients[$1]} push --postgres "$PG" --table enterprises --mapping mapping.json --resource 101001/000077; }
# One warm-up of each (page cache, the node's first push), not reported.
for k in "${!clients[@]}"; do push "$k" > /dev/null; done
echo "rows $rows; node $node_dir; clients: $*"
echo "round client push_wall client_cpu client_faults node_cpu psql_wall ratio load1"
for r in $(seq 1 "$rounds"); do
  order=("${!clients[@]}"); if [ $((r % 2)) -eq 0 ]; then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for k in "${order[@]}"; do
    copy=$(t psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qAt -c "\\copy enterprises TO '$work/provider/out-psql.csv' WITH (FORMAT csv, HEADER true)")
    before=$(node_cpu); wall=$(t ${clients[$k]} push --postgres "$PG" --table enterprises --mapping mapping.json --resource 101001/000077); cpu=$(cat "$work/cpu"); after=$(node_cpu)
    grep -q 'Pushed [0-9,]* rows' "$work/last.out" || { echo "no receipt" >&2; cat "$work/last.out" >&2; exit 1; }
    if [ -n "${GOVSHARE_TRACE:-}" ]; then sed "s/^/  [$r ${k}] /" "$work/last.err" >&2; fi
    echo "$r $k $wall $cpu $(cat "$work/faults") $(echo "$after - $before" | bc) $copy $(echo "scale=2; $wall / $copy" | bc) $(cut -d' ' -f1 /proc/loadavg)"
  done
done
if [ -n "${PROFILE_DIR:-}" ]; then
  mkdir -p "$PROFILE_DIR"
  for k in "${!clients[@]}"; do
    for p in $(seq 1 "${PROFILE_RUNS:-3}"); do
      perf record -q -F 2999 -g -p "$node_pid" -o "$PROFILE_DIR/node-$k-$p.data" > /dev/null 2>&1 & perf_pid=$!; sleep 0.3
      perf record -q -F 2999 -g -o "$PROFILE_DIR/client-$k-$p.data" -- ${clients[$k]} push --postgres "$PG" --table enterprises --mapping mapping.json --resource 101001/000077 > /dev/null
      sleep 0.2; kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" || true
    done
  done
  cp /tmp/perf-"$node_pid".map "$PROFILE_DIR/" 2>/dev/null || true
fi
