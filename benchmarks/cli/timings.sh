#!/usr/bin/env bash
# The department tools' timing table (adapters/README.md), each beside `psql \copy` measured in the
# same run: CSV push, SQLite sync (full, then one changed row), PostgreSQL pull and push.
# Uses the built CLI (dotnet build node/GovShare.Cli -c Release; or GOVSHARE_CLI=<folder of a
# publish>: the ReadyToRun publish the image ships, or the self-contained department tool), copied first so a build
# during the run does not replace it, a demo node on loopback and a throwaway PostgreSQL cluster
# (Debian's postgresql package). Timings are wall clock, whole process (start-up included), on
# whatever the machine is doing: compare within one run; the load average is printed with them.
#   benchmarks/cli/timings.sh [ROWS] [PORT]      (from the repository root)
set -euo pipefail
rows=${1:-200000}; port=${2:-19981}
root=$(pwd); work=$(mktemp -d)
# The resource (catalog entry) and the mapping every row of the table uses; pg-push-pairs.sh uses them too.
here=$(cd "$(dirname "$0")" && pwd)
cp -r "${GOVSHARE_CLI:-$root/node/GovShare.Cli/bin/Release/net10.0}" "$work/cli"; G="dotnet $work/cli/govshare.dll"
# A self-contained publish (the department tool: adapters/README.md) carries its own runtime and is
# run as its own executable (a single-file one has no govshare.dll); `dotnet govshare.dll` would not
# use that runtime. The demo node runs from the same build, or from GOVSHARE_NODE_CLI=<folder> (e.g.
# the image's publish, as departments meet it, while GOVSHARE_CLI is the department tool).
if grep -qs includedFrameworks "$work/cli/govshare.runtimeconfig.json" || [ ! -f "$work/cli/govshare.dll" ]; then G="$work/cli/govshare"; fi
N=$G; if [ -n "${GOVSHARE_NODE_CLI:-}" ]; then cp -r "$GOVSHARE_NODE_CLI" "$work/node-cli"; N="dotnet $work/node-cli/govshare.dll"
  if grep -qs includedFrameworks "$work/node-cli/govshare.runtimeconfig.json" || [ ! -f "$work/node-cli/govshare.dll" ]; then N="$work/node-cli/govshare"; fi; fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
cleanup() { kill -TERM "${node_pid:-0}" 2>/dev/null || true; wait "${node_pid:-0}" 2>/dev/null || true
  [ -d "$work/pg" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
chmod 755 "$work"
# t CMD…: runs CMD, prints its wall time in seconds; its CPU time (user+system, steadier than wall
# clock on a shared machine) goes to $work/cpu.log, read back by cpu() for the table.
t() { local s e TIMEFORMAT='%U %S'; s=$(date +%s.%N)
  { time "$@" > "$work/last.out" 2>&1; } 2> "$work/last.time" || { echo "failed: $*" >&2; cat "$work/last.out" >&2; exit 1; }
  e=$(date +%s.%N); awk '{ printf "%.2f\n", $1 + $2 }' "$work/last.time" >> "$work/cpu.log"; printf '%.2f' "$(echo "$e - $s" | bc)"; }
cpu() { sed -n "${1}p" "$work/cpu.log"; }

# The node: the demo (its PKI and departments), and a resource with one item of most types.
(cd "$work" && exec $N demo --folder "$work/demo" --port "$port" --management-port $((port+1)) > "$work/demo.log" 2>&1) & node_pid=$!
for _ in $(seq 1 240); do grep -q ready "$work/demo.log" && break; sleep 0.5; done
PKI=$work/demo/pki
dept() { mkdir -p "$work/$1"; printf '{ "node": "https://localhost:%s/", "certificate": "%s.crt", "key": "%s.key", "ca": "%s", "purpose": "timing" }\n' \
  "$port" "$PKI/issued/dept-530100-$2" "$PKI/issued/dept-530100-$2" "$PKI/trust-anchors.pem" > "$work/$1/govshare.department.json"; }
dept provider 11530100MB00000118; dept user 11530100MB0000022C
cd "$work/provider"
cp "$here/timings-entry.json" entry.json
$G catalog create --file entry.json > /dev/null
python3 - "$rows" <<'P'
import sys, datetime
n = int(sys.argv[1]); start = datetime.datetime(2026, 3, 1, 8, 30)
with open("data.csv", "w", encoding="gb18030", newline="") as f:
    f.write("统一社会信用代码,企业名称,注册资本,从业人数,成立日期,更新时间\r\n")
    for i in range(1, n + 1):
        f.write(f"91530100MA{i:08d},云南测试企业{i}号,{i}.{i % 100:02d},{i % 5000},{datetime.date(2000, 1, 1) + datetime.timedelta(days=i % 9000)},{start + datetime.timedelta(seconds=i)}\r\n")
P
cp "$here/timings-mapping.json" mapping.json
iconv -f gb18030 -t utf-8 data.csv > data-utf8.csv

# PostgreSQL, and the psql \copy baselines on the same data.
mkdir "$work/pg"; chown postgres "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync -E UTF8 --locale=C > /dev/null
pg_port=$((port+2))
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start > /dev/null
PG="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=false"
psqlc() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qAt "$@"; }
psqlc -c 'CREATE TABLE baseline ("统一社会信用代码" text, "企业名称" text, "注册资本" numeric(18,2), "从业人数" integer, "成立日期" date, "更新时间" timestamptz)'
copy_in=$(t psqlc -c "SET TIME ZONE 'Asia/Shanghai'" -c "\\copy baseline FROM '$work/provider/data-utf8.csv' WITH (FORMAT csv, HEADER true)")
copy_out=$(t psqlc -c "\\copy baseline TO '$work/provider/out-psql.csv' WITH (FORMAT csv, HEADER true)")

push_csv=$(t $G push --csv data.csv --mapping mapping.json --resource 101001/000077)
cd "$work/user"
pull_pg=$(t $G pull --resource 101001/000077 --postgres "$PG" --table enterprises)
pull_sqlite=$(t $G pull --resource 101001/000077 --sqlite "$work/provider/dept.db" --table enterprises)
cd "$work/provider"
push_pg=$(t $G push --postgres "$PG" --table enterprises --mapping mapping.json --resource 101001/000077)
push_pg_rows=$(grep -o 'Pushed [0-9,]* rows' "$work/last.out" || echo 'no receipt')
sync=(sync --sqlite dept.db --table enterprises --mapping mapping.json --resource 101001/000077 --key code)
sync_full=$(t $G "${sync[@]}")
sqlite3_update() { python3 -c "import sqlite3; c = sqlite3.connect('dept.db'); c.execute(\"UPDATE enterprises SET 企业名称 = '改名企业' WHERE 统一社会信用代码 = '91530100MA00000007'\"); c.commit()"; }
sqlite3_update
sync_one=$(t $G "${sync[@]}")
one_line=$(grep -o 'pushed [0-9,]* of [0-9,]* rows ([A-Za-z]*' "$work/last.out" || true)

echo "Load average (1, 5, 15 min): $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; CLI: ${GOVSHARE_CLI:-build output}; node: ${GOVSHARE_NODE_CLI:-the same}"
echo
echo "Wall clock, whole process; in brackets the process's own CPU time (user+system). psql's CPU is the client's only: the server does its COPY work."
echo
echo "| ${rows} rows (GB18030 CSV, 6 items) | govshare | \`psql \\copy\` (same run) |"
echo "|---|---|---|"
echo "| CSV push (convert, check against the catalog, upload as converted) | ${push_csv} s ($(cpu 3) cpu) | ${copy_in} s (\\copy FROM csv) |"
echo "| PostgreSQL pull (binary COPY into a new table) | ${pull_pg} s ($(cpu 4) cpu) | ${copy_in} s (\\copy FROM csv) |"
echo "| PostgreSQL push (binary COPY out of the table, upload as converted) | ${push_pg} s ($(cpu 6) cpu; ${push_pg_rows}) | ${copy_out} s (\\copy TO csv) |"
echo "| SQLite pull (new table) | ${pull_sqlite} s ($(cpu 5) cpu) | |"
echo "| SQLite sync, first (full) | ${sync_full} s ($(cpu 7) cpu) | |"
echo "| SQLite sync, one row changed | ${sync_one} s ($(cpu 8) cpu; ${one_line}) | |"
