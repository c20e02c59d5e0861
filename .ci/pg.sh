#!/usr/bin/env bash
# Prepares a PostGIS database for wangge and prints `DATABASE_URL=...` on its last line.
#
# With DATABASE_URL already set, it is used as it is (any PostGIS server) and nothing is
# installed or started. Otherwise the script installs what is missing (PostgreSQL 15, PostGIS 3,
# pgRouting; apt, with sudo when not root) and starts a private cluster under .wangge/ on a
# free loopback port with its own socket directory. A second run reuses the cluster and data.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.wangge"
pgbin=/usr/lib/postgresql/15/bin
log() { echo "pg.sh: $*" >&2; }

if [ -n "${DATABASE_URL:-}" ]; then
  log "using DATABASE_URL from the environment"
  echo "DATABASE_URL=$DATABASE_URL"
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
[ -x "$pgbin/postgres" ] || need+=(postgresql-15)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
[ -f /usr/share/postgresql/15/extension/pgrouting.control ] || need+=(postgresql-15-pgrouting)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# initdb refuses to run as root: the cluster then belongs to the postgres user.
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

mkdir -p "$state"
chmod 755 "$state"
data="$state/pgdata"
sock="$state/sock"
if [ ! -f "$data/PG_VERSION" ]; then
  log "creating a private cluster in $data"
  mkdir -p "$data" "$sock"
  chown "$owner" "$data" "$sock"
  chmod 700 "$data"
  as_owner "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
mkdir -p "$sock" && chown "$owner" "$sock"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  port=$(cat "$state/port")
else
  port=$(cat "$state/port" 2>/dev/null || echo 54329)
  while ! port_free "$port"; do port=$((port + 1)); done
  echo "$port" > "$state/port"
  log "starting the cluster on 127.0.0.1:$port"
  touch "$state/postgres.log" && chown "$owner" "$state/postgres.log"
  as_owner "$pgbin/pg_ctl" -D "$data" -l "$state/postgres.log" -w -t 60 \
    -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=512MB -c fsync=on" start >&2
fi

url="postgres://postgres@127.0.0.1:$port/wangge"
if ! "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc "select 1 from pg_database where datname='wangge'" postgres | grep -q 1; then
  "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "create database wangge" postgres
fi
echo "DATABASE_URL=$url" > "$state/env"
echo "DATABASE_URL=$url"
