#!/usr/bin/env bash
# Times every GET JSON route of the README's table over HTTP against a running server, as
# one account (by default the administrator of the whole zone), RUNS times each, and prints
# per route the median and p95 in ms and the bytes of the answer; routes over the budget of
# issue 12 (300 ms at p95, 2 MB) are marked. Coverage routes are left to their own benchmark.
#
#   BASE=http://127.0.0.1:8080 USER_NAME=admin PASS=... benches/routes_s100.sh > out.tsv
#   (RUNS=10 runs per route; ONLY=word measures the routes containing it; SKIP=a,b leaves some out)
#
# With BASE_B (a second server on the same database, e.g. the build before a change), each
# route is timed RUNS times on BASE, then RUNS times on BASE_B, route after route, and the
# two answers' bodies are compared byte for byte (`same` or `differs`).
#
# Codes of the samples (a community, grids of both levels, a person, an organisation...) are
# looked up from the server's own answers, so any demo scale works.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
USER=${USER_NAME:-${USER:-admin}}
PASS=${PASS:?PASS is the password of the account}
RUNS=${RUNS:-10}
ONLY=${ONLY:-}
# Routes containing one of these comma-separated words are left out (e.g. slow baselines).
SKIP=${SKIP:-}

BASE_B=${BASE_B:-}
login() {
  curl -sf -X POST "$1/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$USER\",\"password\":\"$PASS\",\"token\":true}" | jq -r .token
}
token=$(login "$BASE")
auth=(-H "authorization: Bearer $token")
if [ -n "$BASE_B" ]; then auth_b=(-H "authorization: Bearer $(login "$BASE_B")"); fi
j() { curl -sf "${auth[@]}" "$BASE$1"; }

community=$(j '/api/communities' | jq -r '.features[0].properties.code')
g1=$(j "/api/grids?level=1&community=$community" | jq -r '.features[0].properties.code')
g2=$(j "/api/grids?level=2&community=$community" | jq -r '.features[0].properties.code')
person=$(j "/api/grids/$g2/people?limit=1" | jq -r '(.people // .features // .residents // [])[0] | (.code // .properties.code // empty)' 2>/dev/null || true)
org=$(j "/api/party/orgs?community=$community" | jq -r '(.orgs // .)[0].code // empty' 2>/dev/null || true)
incident=$(j '/api/incidents?limit=1' | jq -r '.features[0].id // empty' 2>/dev/null || true)
patrol=$(j '/api/patrols?limit=1&from=2020-W01' | jq -r '.features[0].id // empty' 2>/dev/null || true)
lonlat=$(j "/api/grids/$g2" | jq -r '.geometry.coordinates[0][0][0] | "\(.[0])&lat=\(.[1])"')
bbox=$(j "/api/grids/$g2" | jq -r '[.geometry.coordinates[0][0][] ] | [ (map(.[0])|min), (map(.[1])|min), (map(.[0])|max), (map(.[1])|max) ] | map(tostring) | join(",")')
year=$(date -u +%Y)

routes=(
  "/api/health"
  "/api/auth/me"
  "/config.json"
  "/api/locate?lon=$lonlat"
  "/api/search?q=${community:0:6}&limit=20"
  "/api/communities"
  "/api/grids?level=1"
  "/api/grids?level=2"
  "/api/grids?level=2&community=$community"
  "/api/grids/$g2"
  "/api/grids/$g1/history"
  "/api/grids/$g2/people"
  "/api/grids/$g2/households"
  "/api/buildings?bbox=$bbox"
  "/api/stations"
  "/api/accounts"
  "/api/audit"
  "/api/patrols"
  "/api/compliance"
  "/api/compliance?community=$community"
  "/api/compliance/overdue"
  "/api/compliance/summary"
  "/api/compliance/export?format=csv"
  "/api/incidents"
  "/api/incidents/counts"
  "/api/party/cells"
  "/api/party/cells?level=1"
  "/api/party/findings"
  "/api/party/findings?year=2024"
  "/api/party/findings?format=geojson&year=2024"
  "/api/party/findings?community=$community"
  "/api/party/report"
  "/api/party/report?year=2024"
  "/api/party/orgs"
  "/api/party/associations"
  "/api/party/units"
  "/api/party/dual-members"
  "/tiles/grids2/12/3286/1665"
)
[ -n "$person" ] && routes+=("/api/people/$person")
[ -n "$org" ] && routes+=("/api/party/orgs/$org")
[ -n "$incident" ] && routes+=("/api/incidents/$incident")
[ -n "$patrol" ] && routes+=("/api/patrols/$patrol")

# time BASE ROUTE AUTH...: RUNS calls; sets status, size, stats (median and p95 in ms) and
# verdict, and keeps the last body in $body_file.
body_dir=$(mktemp -d)
trap 'rm -rf "$body_dir"' EXIT
time_route() {
  local base=$1 r=$2
  shift 2
  times=()
  status=0
  size=0
  for _ in $(seq "$RUNS"); do
    out=$(curl -s -o "$body_file" "$@" -w '%{http_code} %{time_total} %{size_download}' "$base$r")
    read -r status t size <<<"$out"
    times+=("$t")
  done
  stats=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
    i = int(0.95 * NR + 0.999); if (i < 1) i = 1; if (i > NR) i = NR;
    printf "%.0f\t%.0f", m * 1000, a[i] * 1000 }')
  p95=${stats#*$'\t'}
  verdict=ok
  if [ "${p95%.*}" -ge 300 ] || [ "$size" -ge 2000000 ]; then verdict=OVER; fi
}

if [ -n "$BASE_B" ]; then
  printf 'route\tstatus\tmedian_ms\tp95_ms\tbytes\tverdict\tB_status\tB_median_ms\tB_p95_ms\tB_bytes\tB_verdict\tbodies\n'
else
  printf 'route\tstatus\tmedian_ms\tp95_ms\tbytes\tverdict\n'
fi
for r in "${routes[@]}"; do
  if [ -n "$ONLY" ] && [[ "$r" != *"$ONLY"* ]]; then continue; fi
  skip=no
  for w in ${SKIP//,/ }; do [[ "$r" == *"$w"* ]] && skip=yes; done
  [ "$skip" = yes ] && continue
  body_file=$body_dir/a
  time_route "$BASE" "$r" "${auth[@]}"
  line=$(printf '%s\t%s\t%s\t%s\t%s' "$r" "$status" "$stats" "$size" "$verdict")
  if [ -n "$BASE_B" ]; then
    body_file=$body_dir/b
    time_route "$BASE_B" "$r" "${auth_b[@]}"
    same=differs
    cmp -s "$body_dir/a" "$body_dir/b" && same=same
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$line" "$status" "$stats" "$size" "$verdict" "$same")
  fi
  printf '%s\n' "$line"
done
