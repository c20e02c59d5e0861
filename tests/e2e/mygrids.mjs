#!/usr/bin/env node
// Browser test of "my grids" first (issue 14): Debian's chromium driven by playwright-core
// against a running server with the demo district. tests/browser_mygrids.rs starts that
// server on a fresh database, creates the accounts and runs this script; by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/mygrids.mjs http://127.0.0.1:8080 \
//       --chief CHIEF_USER --planner PLANNER_USER --community CODE \
//       [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// CHIEF_USER is a grid chief whose scope is grids; CODE a community with several
// second-level grids. What it checks:
//   1. the chief's first view holds every grid of the scope, and none of it lies under the
//      layer list;
//   2. grids outside the scope are dimmed (the opacity of their outline and label, as the
//      map evaluates it for the rendered features), those inside are not;
//   3. at several zooms each grid label is drawn once: no grid code twice among the rendered
//      labels of either level;
//   4. the planner chooses the community: a table per second-level grid appears, whose
//      figures (buildings and residents covered and not, the share) are those of
//      `GET /api/coverage?community=`; the coverage layer labels each grid once; with
//      several kinds, the share per kind is each kind's.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, signIn as harnessSignIn, step, summary, testPassword, watch } from './harness.mjs';

const args = parseArgs('mygrids.mjs', { chief: null, planner: null, community: null });
const password = testPassword();
const artifacts = artifactsDir(args);

const digits = (s) => String(s).replace(/[^\d-]/g, '');
/** A share as the panel shows it, read back: a number, or null for "—". */
const share = (s) => (String(s).trim() === '—' ? null : parseFloat(String(s).replace(/,/g, '')));

async function signIn(browser, user) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, user);
  await harnessSignIn(page, args.base, user, password);
  return page;
}

/** GET from inside the page, with its session. */
function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin' });
    return { status: r.status, body: await r.json() };
  }, path);
}

function waitIdle(page) {
  return page.evaluate(
    () =>
      new Promise((res) => {
        const m = window.__wangge.map;
        m.once('idle', () => res(true));
        m.triggerRepaint();
      }),
  );
}

/** The [west, south, east, north] of a GeoJSON geometry. */
function bboxOf(g) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]);
      b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]);
      b[3] = Math.max(b[3], c[1]);
    } else c.forEach(walk);
  };
  walk(g.coordinates);
  return b;
}

// ---- the grid chief ---------------------------------------------------------------------------

/** The scope's grids: each grid of the scope and its children, with their shapes. */
async function scopeGrids(page, me) {
  const out = [];
  for (const code of me.scope.grids) {
    const g = (await api(page, `/api/grids/${code}`)).body;
    out.push({ code, bbox: bboxOf(g.geometry) });
    for (const child of g.properties.children ?? []) {
      const c = (await api(page, `/api/grids/${child}`)).body;
      out.push({ code: child, bbox: bboxOf(c.geometry) });
    }
  }
  return out;
}

async function checkFirstView(page, grids) {
  const view = await page.evaluate((boxes) => {
    const { map } = window.__wangge;
    const m = map.getContainer().getBoundingClientRect();
    const legend = document.querySelector('.legend').getBoundingClientRect();
    const px = boxes.map((b) => {
      const a = map.project([b[0], b[3]]);
      const z = map.project([b[2], b[1]]);
      return [a.x, a.y, z.x, z.y];
    });
    return { width: m.width, height: m.height, legendRight: legend.right - m.left, legendBottom: legend.bottom - m.top, px, zoom: map.getZoom() };
  }, grids.map((g) => g.bbox));
  summary.first_view = { zoom: view.zoom, legend_right: view.legendRight };
  grids.forEach((g, i) => {
    const [x0, y0, x1, y1] = view.px[i];
    check(x0 >= -1 && y0 >= -1 && x1 <= view.width + 1 && y1 <= view.height + 1, `grid ${g.code} lies in the first view (${view.px[i].map(Math.round)} in ${view.width}×${view.height})`);
    // The layer list covers the left of the map from its top down to its bottom edge.
    check(x0 >= view.legendRight || y0 >= view.legendBottom, `grid ${g.code} is not under the layer list (its left ${Math.round(x0)} px, the list's right ${Math.round(view.legendRight)} px)`);
  });
}

/** Rendered features of a style layer as their codes with the opacity the map gives them. */
function opacities(page, layer, property) {
  return page.evaluate(
    ({ layer, property }) => {
      const { map } = window.__wangge;
      const style = map.getLayer(layer);
      return map.queryRenderedFeatures({ layers: [layer] }).map((f) => ({
        code: String(f.properties.code),
        opacity: style.paint.get(property).evaluate({ type: f.geometry.type, properties: f.properties }, {}),
      }));
    },
    { layer, property },
  );
}

async function checkDimmed(page, me, grids) {
  const mine = (code) => me.scope.grids.some((g) => code.startsWith(g));
  // Zoom out until grids outside the scope are drawn around it.
  let lines = [];
  for (let i = 0; i < 4; i++) {
    lines = await opacities(page, 'grids2-line', 'line-opacity');
    if (lines.some((l) => !mine(l.code))) break;
    await page.evaluate(() => window.__wangge.map.jumpTo({ zoom: window.__wangge.map.getZoom() - 0.7 }));
    await waitIdle(page);
  }
  const inside = lines.filter((l) => mine(l.code));
  const outside = lines.filter((l) => !mine(l.code));
  summary.dimmed = { inside: new Set(inside.map((l) => l.code)).size, outside: new Set(outside.map((l) => l.code)).size };
  check(inside.length > 0 && outside.length > 0, `grids inside (${inside.length}) and outside (${outside.length}) the scope are drawn`);
  check(grids.every((g) => g.code.length === 14 || inside.some((l) => l.code === g.code)), 'every second-level grid of the scope is drawn');
  check(inside.every((l) => l.opacity === 1), `the scope's grids are drawn in full: ${JSON.stringify(inside.filter((l) => l.opacity !== 1))}`);
  check(outside.every((l) => l.opacity < 0.5), `grids outside the scope are dimmed: ${JSON.stringify(outside.filter((l) => l.opacity >= 0.5))}`);
  await page.screenshot({ path: join(artifacts, 'mygrids-chief.png') });
}

/** The codes of the rendered labels of one style layer. */
function labelCodes(page, layer) {
  return page.evaluate((layer) => window.__wangge.map.queryRenderedFeatures({ layers: [layer] }).map((f) => String(f.properties.code)), layer);
}

async function checkLabelsOnce(page, me) {
  const centre = await page.evaluate(() => window.__wangge.map.getCenter().toArray());
  const seen = {};
  for (const zoom of [13.6, 14.4, 15.2, 16, 17]) {
    await page.evaluate(({ centre, zoom }) => window.__wangge.map.jumpTo({ center: centre, zoom }), { centre, zoom });
    await waitIdle(page);
    for (const layer of ['grids1-label', 'grids2-label']) {
      const codes = await labelCodes(page, layer);
      const twice = codes.filter((c, i) => codes.indexOf(c) !== i);
      check(twice.length === 0, `z${zoom} ${layer}: each grid labelled once, but ${[...new Set(twice)]} twice or more`);
      seen[`${layer}@${zoom}`] = codes.length;
    }
    // The dimmed labels are those outside the scope.
    const labels = await opacities(page, 'grids2-label', 'text-opacity');
    for (const l of labels) check(l.opacity === (me.scope.grids.some((g) => l.code.startsWith(g)) ? 1 : 0.45), `label of ${l.code} at opacity ${l.opacity}`);
  }
  summary.labels = seen;
  check(Object.entries(seen).some(([k, n]) => k.startsWith('grids1') && n > 0), 'first-level labels were drawn');
  check(Object.entries(seen).some(([k, n]) => k.startsWith('grids2') && n > 1), 'second-level labels were drawn');
}

async function chiefTour(browser) {
  const page = await step('chief: sign in', null, () => signIn(browser, args.chief));
  const me = (await api(page, '/api/auth/me')).body;
  check(me.role === 'grid_chief' && me.scope.kind === 'grids', `a grid chief with grids (${me.role}, ${me.scope.kind})`);
  const grids = await scopeGrids(page, me);
  await step('chief: the first view holds the scope, clear of the layer list', page, () => checkFirstView(page, grids));
  await step('chief: grids outside the scope are dimmed', page, () => checkDimmed(page, me, grids));
  await step('chief: each grid label is drawn once', page, () => checkLabelsOnce(page, me));
  await page.context().close();
}

// ---- the planner ---------------------------------------------------------------------------------

/** Waits until the planner's panel has finished computing. */
async function settled(page) {
  await page.locator('[data-testid=cov-root][data-busy="0"]').waitFor({ timeout: 60_000 });
}

/** The per-grid table's rows: code and the numbers of each `data-field` (or `data-kind`). */
function tableRows(page, testid, attr) {
  return page.getByTestId(testid).locator('tbody tr').evaluateAll(
    (trs, attr) => trs.map((tr) => ({ code: tr.dataset.code, cells: Object.fromEntries([...tr.querySelectorAll(`[${attr}]`)].map((td) => [td.getAttribute(attr), td.textContent])) })),
    attr,
  );
}

async function checkGridTable(page) {
  await page.getByTestId('tool-coverage').click();
  await page.getByTestId('cov-summary').waitFor();
  await settled(page);
  check((await page.getByTestId('cov-grids').count()) === 0, 'no per-grid table before a community is chosen');
  await page.getByTestId('cov-community').selectOption(args.community);
  await page.locator(`[data-testid=cov-grids][data-community="${args.community}"]`).waitFor({ timeout: 60_000 });
  await settled(page);
  const kind = await page.getByTestId('cov-kind').inputValue();
  const reply = (await api(page, `/api/coverage?kind=${kind}&minutes=10&community=${args.community}`)).body;
  const rows = await tableRows(page, 'cov-grids', 'data-field');
  summary.planner_rows = rows.length;
  check(rows.length === reply.grids2.length && rows.length > 1, `one row per grid of the community (${rows.length} rows, the API has ${reply.grids2.length})`);
  for (const g of reply.grids2) {
    const r = rows.find((x) => x.code === g.code);
    check(r, `a row for ${g.code}`);
    const want = {
      buildings_covered: g.buildings_covered,
      buildings_uncovered: g.buildings - g.buildings_covered,
      residents_covered: g.residents_covered,
      residents_uncovered: g.residents - g.residents_covered,
    };
    for (const [k, v] of Object.entries(want)) check(digits(r.cells[k]) === String(v), `${g.code} ${k}: ${r.cells[k]} vs ${v}`);
    check(share(r.cells.residents_pct) === g.residents_pct, `${g.code} share: ${r.cells.residents_pct} vs ${g.residents_pct}`);
  }
  check(rows.some((r) => digits(r.cells.residents_uncovered) !== '0'), 'some grid has residents not covered (the demo has gaps)');

  // The coverage layer labels each grid once too (at a point inside it).
  const first = (await api(page, `/api/grids/${rows[0].code}`)).body;
  const b = bboxOf(first.geometry);
  for (const zoom of [14, 15, 16]) {
    await page.evaluate(({ at, zoom }) => window.__wangge.map.jumpTo({ center: at, zoom }), { at: [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], zoom });
    await waitIdle(page);
    const codes = await labelCodes(page, 'coverage-label');
    const twice = codes.filter((c, i) => codes.indexOf(c) !== i);
    check(codes.length > 0 && twice.length === 0, `z${zoom}: coverage labels ${codes.length}, each once (twice: ${[...new Set(twice)]})`);
  }
  await page.screenshot({ path: join(artifacts, 'mygrids-planner.png') });

  // Several kinds: each kind's share per grid.
  await page.getByTestId('cov-mode').selectOption('any');
  await page.getByTestId('cov-grids-kinds').waitFor({ timeout: 60_000 });
  await settled(page);
  const kinds = await page.getByTestId('cov-kinds').locator('input:checked').evaluateAll((els) => els.map((e) => e.value));
  check(kinds.length > 1, `several kinds counted (${kinds})`);
  const byKind = await tableRows(page, 'cov-grids-kinds', 'data-kind');
  for (const k of kinds.slice(0, 3)) {
    const r = (await api(page, `/api/coverage?kind=${k}&minutes=10&community=${args.community}`)).body;
    for (const g of r.grids2) {
      const row = byKind.find((x) => x.code === g.code);
      check(row && share(row.cells[k]) === g.residents_pct, `${g.code} ${k}: ${row?.cells[k]} vs ${g.residents_pct}`);
    }
  }
}

async function plannerTour(browser) {
  const page = await step('planner: sign in', null, () => signIn(browser, args.planner));
  await step('planner: a community chosen, its per-grid table matches the API', page, () => checkGridTable(page));
  await page.context().close();
}

await main(args, artifacts, async (browser) => {
  await chiefTour(browser);
  await plannerTour(browser);
});
