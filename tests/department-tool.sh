#!/usr/bin/env bash
# The department tool as departments get it: publishes node/GovShare.DepartmentTool Native AOT
# (adapters/README.md, "Getting the tool") and runs the department journeys through that executable
# instead of the build output (GovShareProcess reads GOVSHARE_DEPARTMENT_TOOL): push/pull/sync with
# CSV, SQLite and PostgreSQL (and its refusals and connection-string forms), catalog, certs, requests,
# consents, complaints, disputes, and Ctrl+C.
# Not part of tests/run.sh: the publish alone takes 5-10 minutes on
# a 2-core machine. Run it after changing a department command, a library the tool uses, or the .NET
# SDK, and before handing out a build. Needs what the publish needs (clang or gcc, zlib1g-dev) and
# what tests/run.sh installs (postgresql). Ends like tests/run.sh: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish node/GovShare.DepartmentTool -p:PublishProfile=department-tool
# The nodes the tests start, and the tests themselves, are the ordinary build.
dotnet build GovShare.sln -c Release
tool=$(pwd)/node/GovShare.DepartmentTool/bin/department-tool/linux-x64/govshare
"$tool" push --help > /dev/null
log=$(mktemp)
# As in tests/run.sh: SIGINT's default restored, or a script started in the background passes its
# ignored SIGINT to the tool and the Ctrl+C journeys fail (they say so).
GOVSHARE_DEPARTMENT_TOOL=$tool env --default-signal=INT dotnet test tests/GovShare.Node.Tests -c Release --no-build \
  --filter "FullyQualifiedName~Cli.DepartmentJourneyTests|FullyQualifiedName~Cli.DepartmentCommandsTests|FullyQualifiedName~Cli.ReadmeJourneyTests|FullyQualifiedName~CompareCommandTests|FullyQualifiedName~Cli.PostgresRefusalTests" \
  | tee "$log" || true
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | grep -oE '[0-9]+' | paste -sd+ | bc || echo 0)
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | grep -oE '[0-9]+' | paste -sd+ | bc || echo 0)
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${failed:-0}" = 0 ] && [ "${passed:-0}" != 0 ]
