#!/usr/bin/env bash
# The web app on a whole city in Chromium (issue 12): runs tests/e2e/city.mjs (playwright-core
# driving Debian's chromium) against a running server, signed in as the administrator of the
# whole zone. It times, each on a fresh browser context, the sign-in until the map is idle with
# the default layers, every layer of the layer list switched on, the party view (党), the
# planner's panel (◎) and the week view (⚑), records the size of every response, and fails
# when a step takes longer than BUDGET_MS or a response is larger than MAX_BYTES. The JSON
# summary (per-step times in `timings`, the largest responses) is the last line of stdout;
# screenshots go to ARTIFACTS.
#
#   BASE=http://127.0.0.1:8080 USER_NAME=admin PASS=... benches/browser_city.sh
#   (BUDGET_MS=3000, MAX_BYTES=5242880, ARTIFACTS=tests/artifacts, CHROMIUM=/usr/bin/chromium;
#    RUNS=N runs it N times and prints each run's summary)
#
# For the figures of BENCHMARKS.md: the demo at scale 100 loaded into a database of one's
# own (`wangge migrate && wangge demo load --dir DIR`, which prints the accounts and their
# passwords) and served by the release build (`cargo build --release`,
# `WANGGE_WEB_DIR=web/dist target/release/wangge serve`), with the web app built
# (`make web`) and the browser's packages installed (`make e2e-deps`). Wait until the
# coverage model is ready (`/api/coverage?kind=clinic&minutes=5` answers 200) before timing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BASE=${BASE:-http://127.0.0.1:8080}
USER_NAME=${USER_NAME:-admin}
PASS=${PASS:?PASS is the password of the zone administrator USER_NAME}
BUDGET_MS=${BUDGET_MS:-3000}
MAX_BYTES=${MAX_BYTES:-5242880}
ARTIFACTS=${ARTIFACTS:-$root/tests/artifacts}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
RUNS=${RUNS:-1}

[ -x "$CHROMIUM" ] || { echo "no chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 2; }
[ -f "$root/tests/e2e/node_modules/playwright-core/package.json" ] || { echo "run: make e2e-deps" >&2; exit 2; }

status=0
for i in $(seq 1 "$RUNS"); do
  WANGGE_E2E_PASSWORD="$PASS" node "$root/tests/e2e/city.mjs" "$BASE" --admin "$USER_NAME" \
    --budget-ms "$BUDGET_MS" --max-bytes "$MAX_BYTES" --artifacts "$ARTIFACTS" --chromium "$CHROMIUM" || status=1
done
exit $status
