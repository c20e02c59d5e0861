#!/usr/bin/env bash
# The coverage figures of issue 12 on a city, over HTTP, with the database's side in the same
# run: starts the server on a loaded database, times start to ready (the listener answers
# `/api/health/ready`) and the coverage model (the first 200 of `/api/coverage`), waits for
# the columns of every kind to be warmed, then times each coverage route RUNS times as the
# given account and prints median and p95 (ms) and bytes; last, the same coverage question
# done by pgRouting at its best (benches/coverage_s100.sql).
#
#   wangge demo generate --scale 100 --out /tmp/s100        # 600 communities, 303,175 buildings
#   DATABASE_URL=postgres://.../s100 wangge migrate && wangge demo load --dir /tmp/s100
#   DATABASE_URL=postgres://.../s100 USER_NAME=admin PASS=... benches/coverage_s100.sh
#   (BIN=target/release/wangge, PORT=8391, RUNS=10, KIND=elderly_care)
set -euo pipefail
BIN=${BIN:-target/release/wangge}
PORT=${PORT:-8391}
RUNS=${RUNS:-10}
KIND=${KIND:-elderly_care}
USER=${USER_NAME:-admin}
PASS=${PASS:?PASS is the password of the account}
: "${DATABASE_URL:?DATABASE_URL is the loaded database}"
BASE=http://127.0.0.1:$PORT
here=$(cd "$(dirname "$0")" && pwd)

log=$(mktemp)
now() { date +%s.%N; }
t0=$(now)
WANGGE_LISTEN=127.0.0.1:$PORT "$BIN" serve >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
until curl -sf -o /dev/null "$BASE/api/health/ready"; do
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.05
done
ready=$(echo "$(now) - $t0" | bc)
rss_ready=$(awk '/VmRSS/{print $2}' /proc/$pid/status)

token=$(curl -sf -X POST "$BASE/api/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"$USER\",\"password\":\"$PASS\",\"token\":true}" | jq -r .token)
auth=(-H "authorization: Bearer $token")
until [ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$BASE/api/coverage?kind=clinic&minutes=5")" = 200 ]; do
  sleep 0.05
done
model=$(echo "$(now) - $t0" | bc)
until grep -q 'coverage columns warmed' "$log"; do
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.2
done
warmed=$(echo "$(now) - $t0" | bc)
rss_warm=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
printf 'start to ready\t%.1f s\t%d MB resident\n' "$ready" $((rss_ready / 1024))
printf 'coverage model ready\t%.1f s after start\n' "$model"
printf 'every kind warmed (5, 10, 15 min)\t%.1f s after start\t%d MB resident\n' "$warmed" $((rss_warm / 1024))

# The samples: a community, a station of the kind and where it would move.
first=$(curl -sf "${auth[@]}" "$BASE/api/communities" | jq -c '.features[0]')
community=$(jq -r .properties.code <<<"$first")
bbox=$(jq -r '[.geometry.coordinates | .. | arrays | select(length == 2 and (.[0] | type) == "number")]
  | [(map(.[0]) | min), (map(.[1]) | min), (map(.[0]) | max), (map(.[1]) | max)] | map(tostring) | join(",")' <<<"$first")
station=$(curl -sf "${auth[@]}" "$BASE/api/stations?kind=$KIND&bbox=$bbox" |
  jq -c "[.features[] | select(.properties.kind == \"$KIND\")][0] | {code: .properties.code, lon: .geometry.coordinates[0], lat: .geometry.coordinates[1]}")
code=$(jq -r .code <<<"$station")
lon=$(jq -r '.lon + 0.003' <<<"$station")
lat=$(jq -r '.lat + 0.002' <<<"$station")
move="{\"kind\":\"$KIND\",\"minutes\":10,\"changes\":[{\"op\":\"move\",\"code\":\"$code\",\"lon\":$lon,\"lat\":$lat}]}"
add="{\"kind\":\"$KIND\",\"minutes\":10,\"changes\":[{\"op\":\"add\",\"kind\":\"$KIND\",\"lon\":$lon,\"lat\":$lat}]}"

# One route RUNS times (after one untimed request): median, p95 (ms), bytes.
measure() {
  local name=$1; shift
  curl -s -o /dev/null "${auth[@]}" "$@"
  local times=() bytes=0 out
  for _ in $(seq "$RUNS"); do
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "${auth[@]}" "$@")
    read -r status secs bytes <<<"$out"
    [ "$status" = 200 ] || { echo "$name: HTTP $status" >&2; exit 1; }
    times+=("$secs")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v bytes="$bytes" '
    { t[NR] = $1 * 1000 }
    END { p95 = t[int(NR * 0.95 + 0.999)]; m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2;
          printf "%s\t%.1f\t%.1f\t%d\n", name, m, p95, bytes }'
}
echo
printf 'route\tmedian ms\tp95 ms\tbytes\n'
measure "one kind, whole zone" "$BASE/api/coverage?kind=$KIND&minutes=10"
measure "all nine 1+8 kinds, whole zone" "$BASE/api/coverage?minutes=10"
measure "one kind, one community" "$BASE/api/coverage?kind=$KIND&minutes=10&scope=$community"
measure "isochrone of a station" "$BASE/api/coverage/isochrone?station=$code&minutes=10"
measure "what-if: move a station" -X POST -H 'content-type: application/json' -d "$move" "$BASE/api/coverage/scenario"
measure "what-if: add a station" -X POST -H 'content-type: application/json' -d "$add" "$BASE/api/coverage/scenario"
echo "cache: $(grep -c 'coverage columns warmed' "$log") warm-up(s) logged"

echo
echo "pgRouting, the same question (ms per run; building and station snaps kept in tables first):"
kill $pid 2>/dev/null || true
psql "$DATABASE_URL" -qX -v kind="$KIND" -v cutoff=500 -f "$here/coverage_s100.sql" | grep '^Time' | grep -v 'CREATE\|PREPARE'
