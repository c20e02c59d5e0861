# wangge: `make run` serves the demo district on http://127.0.0.1:8080;
# `make test` runs the whole test suite against a real PostGIS.
# Both prepare the database with .ci/pg.sh (a private cluster under .wangge/, or
# DATABASE_URL when it is set).

SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
.PHONY: run test db deps clean-test-dbs fmt lint bench web e2e-deps bench-baselines bench-load bench-capacity

PG := ./.ci/pg.sh
DB = export DATABASE_URL="$$($(PG) | tail -n 1 | cut -d= -f2-)"

db:
	$(PG)

# System packages the tests need besides PostgreSQL (pg.sh installs that).
deps:
	./.ci/deps.sh

# The web app (web/): `npm ci` when the lock file changed, `vite build` into web/dist when
# a source changed. The server serves web/dist at /.
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) \
	web/index.html web/package.json web/tsconfig.json web/vite.config.ts

web: web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	npm ci --prefix web --no-audit --no-fund

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	npm run --prefix web build
	touch web/dist/index.html

# The browser tests' npm packages (playwright-core; the browser itself is Debian's chromium).
e2e-deps: tests/e2e/node_modules/.package-lock.json

tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund

run: deps web
	$(DB)
	cargo build --release
	./target/release/wangge migrate
	./target/release/wangge demo load --dir data/demo
	./target/release/wangge serve

clean-test-dbs:
	$(DB)
	psql "$$DATABASE_URL" -Atqc "select datname from pg_database where datname like 'wangge_t_%'" \
	  | while read -r d; do psql "$$DATABASE_URL" -qc "drop database if exists \"$$d\" with (force)"; done

test: deps clean-test-dbs web e2e-deps
	$(DB)
	cargo test -- --test-threads=4

fmt:
	cargo fmt --all

# Style and static checks, run by CI before the tests: rustfmt, clippy with warnings as
# errors, and for the web app the TypeScript checker and ESLint (web/eslint.config.js).
lint: web/node_modules/.package-lock.json
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	npm run --prefix web check
	npm run --prefix web lint

# Benchmarks of issue 12 (not part of `make test`; release builds; see BENCHMARKS.md).
# The demo district at scales 1, 10 and 100 is generated and loaded once into databases
# wangge_bench_s{1,10,100} of the private cluster and reused.
bench-baselines:
	$(DB)
	WANGGE_BENCH_SCALES=1,100 cargo bench --bench locate
	WANGGE_BENCH_SCALES=1,100 cargo bench --bench tiles

bench-load:
	$(DB)
	cargo bench --bench load

bench-capacity:
	$(DB)
	cargo bench --bench capacity
