#!/usr/bin/env bash
# Installs the system packages wangge's tests and tools need, when they are missing:
# PostgreSQL 15 with PostGIS and pgRouting (through pg.sh), GDAL, QGIS's Python bindings,
# osmium, Chromium.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v ogrinfo >/dev/null || need+=(gdal-bin)
# QGIS's Python bindings: tests/ogc.rs opens the OGC collections with its OAPIF provider.
/usr/bin/python3 -c 'import qgis.core' 2>/dev/null || need+=(python3-qgis)
command -v osmium >/dev/null || need+=(osmium-tool)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Chinese labels in screenshots need a CJK font.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
[ -f /usr/share/postgresql/15/extension/pgrouting.control ] || need+=(postgresql-15-pgrouting)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps.sh: installing ${need[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# The web app's build (Vite) needs Node.js 20.19 or newer; Debian 12's own package is 18.
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "deps.sh: Node.js >= 20.19 with npm is required to build web/ (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
