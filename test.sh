#!/usr/bin/env bash
# The tests (CI runs exactly this, .ci/run): installs the Debian packages the tests need when they are missing
# (tools/setup/install-test-deps.sh), then runs the whole suite. Extra arguments go to dotnet test.
set -euo pipefail
cd "$(dirname "$0")"
tools/setup/install-test-deps.sh
dotnet test -c Release "$@"
