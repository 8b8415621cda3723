#!/usr/bin/env bash
# Sets everything up, then runs every test.  UI tests get a virtual display
# and a session bus.  MORANGO_SANITIZE=1 builds into build-asan with
# AddressSanitizer and UndefinedBehaviorSanitizer and runs the same suite.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

if [ "${MORANGO_SANITIZE:-0}" = 1 ]; then
  export BUILD_DIR="${BUILD_DIR:-build-asan}"
  export MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
fi
build="${BUILD_DIR:-build}"
bash scripts/setup.sh

status=0
xvfb-run -a dbus-run-session -- \
  meson test -C "$build" --print-errorlogs --num-processes 2 -t "${MORANGO_TIMEOUT_MULTIPLIER:-1}" || status=$?

# One plain closing line with the counts of the whole run.
python3 - "$build/meson-logs/testlog.json" <<'PY' || true
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    res = r.get("result")
    if res in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif res == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit "$status"
