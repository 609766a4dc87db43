#!/usr/bin/env bash
# GovShare's test command (the README's, and what .ci/run calls).
# Sets up what the tests need on a fresh Debian machine with the .NET SDK, builds with
# warnings as errors, runs every test with real TLS, real files and real processes on
# loopback, and ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests drive as real peers. Installed only when missing.
packages=()
command -v curl >/dev/null 2>&1 || packages+=(curl)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
# The adapters' PostgreSQL round trip starts a throwaway cluster from the server binaries.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
# The scale-out test puts three node replicas behind HAProxy in TCP mode (TLS passthrough).
command -v haproxy >/dev/null 2>&1 || packages+=(haproxy)
# The evaluation's annual report is rendered by headless Chromium to check it reads and prints.
[ -x /usr/bin/chromium ] || packages+=(chromium)
# The operator console's browser tests drive that chromium through Debian's chromedriver (Selenium),
# with the operator's certificate in an NSS database made by certutil/pk12util.
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
command -v pk12util >/dev/null 2>&1 || packages+=(libnss3-tools)
# A Chinese font, so the console's Chinese pages read in the screenshots (the tests check the text either way).
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || packages+=(fonts-wqy-microhei)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing test prerequisites: ${packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "Missing test prerequisites: ${packages[*]} (install them with apt-get)" >&2
  fi
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
# The tests send SIGINT (Ctrl+C) to the node and the tool. A runner started in the background (a
# script's `&`, nohup, some CI agents) ignores SIGINT, and every child inherits that, so restore
# its default for the tests (coreutils' env; the tests say so plainly when it is still ignored).
restore_sigint=()
if env --default-signal=INT true >/dev/null 2>&1; then
  restore_sigint=(env --default-signal=INT)
fi
set +e
"${restore_sigint[@]}" dotnet test GovShare.sln -c Release \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" \
  --blame-hang-timeout 10m
status=$?
set -e

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
# A build failure runs no test: count it as a failure so it is never read as green.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
# The failed tests again, by name with the first lines of their message, just above the count:
# CI shows the end of this output, and a long run's failure scrolls far out of it.
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  awk '
    /<UnitTestResult / && /outcome="Failed"/ {
      match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); failing = 1; lines = 0
      gsub(/&quot;/, "\"", name); gsub(/&lt;/, "<", name); gsub(/&gt;/, ">", name); gsub(/&amp;/, "\\&", name)
      print "FAILED " name
    }
    failing && /<Message>/ { inMessage = 1; sub(/.*<Message>/, "") }
    failing && inMessage {
      done = sub(/<\/Message>.*/, "")
      kept[++lines] = $0
      if (done) {
        # The head says what was asserted; the tail, for a process journey, is what it printed last.
        for (i = 1; i <= lines; i++) {
          if (i <= 4 || i > lines - 8) print "    " kept[i]
          else if (i == 5) print "    …"
        }
        inMessage = 0; failing = 0; delete kept
      }
    }
  ' "$trx"
done
# The console's browser tests keep a screenshot of each page they checked.
for shots in tests/GovShare.Node.Tests/bin/Release/*/artifacts/console; do
  if [ -d "$shots" ]; then echo "Console screenshots: $shots"; fi
done
echo "$passed passed, $failed failed"
exit "$status"
