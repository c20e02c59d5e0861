#!/usr/bin/env node
// The web app on a whole city (issue 12): Debian's chromium driven by playwright-core against
// a running server, signed in as the administrator of the whole zone (the largest scope).
// tests/browser_city.rs runs it on the demo at scale 10; benches/browser_city.sh on any
// server (scale 100 for BENCHMARKS.md). By hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/city.mjs http://127.0.0.1:8080 --admin USER \
//       [--budget-ms 3000] [--max-bytes 5242880] [--artifacts DIR] [--chromium PATH]
//
// Each view is timed on a fresh browser context (nothing cached from another view), from
// the click that asks for it until what it shows is there and the map is idle:
//   1. sign in → the map idle with the default layers;
//   2. every layer of the layer list switched on → every layer loaded, the map idle;
//   3. the party view (党) → cells and findings drawn, the year's report listed;
//   4. the planner's panel (◎) → its figures shown and grids (or, for a city seen whole,
//      communities) coloured by the share covered;
//   5. the week view (⚑) → the week's counts listed and grids (or communities) coloured.
// Every response of every page is recorded with its size (the decoded body, which is what
// the app parses, and the bytes on the wire when the server says). It fails when a step
// takes longer than --budget-ms, a response is larger than --max-bytes, a request fails or
// a page reports an error; it prints one JSON line last: per-step times, the largest
// responses, and counts. Read-only: it changes nothing on the server.

import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, problems, step, summary, testPassword, timings, watch } from './harness.mjs';

const args = parseArgs('city.mjs', { admin: null, 'budget-ms': '3000', 'max-bytes': '5242880' });
const password = testPassword();
const artifacts = artifactsDir(args);
const BUDGET_MS = Number(args['budget-ms']);
const MAX_BYTES = Number(args['max-bytes']);
if (!(BUDGET_MS > 0) || !(MAX_BYTES > 0)) throw new Error('--budget-ms and --max-bytes take positive numbers');

/** Every response seen: URL (path and query), status, decoded bytes, wire bytes, time, step. */
const responses = [];
/** Body reads still running (awaited before the summary). */
const reading = new Set();
/** The step the responses belong to. */
let stepName = 'start';

const shot = (page, file) => page.screenshot({ path: join(artifacts, file) });

/** Records each response of a browser context (pages, their workers, the service worker). */
function record(ctx) {
  ctx.on('response', (r) => {
    const at = stepName;
    const u = new URL(r.url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return;
    const p = (async () => {
      const wire = Number(r.headers()['content-length'] ?? NaN);
      let bytes = null;
      // Redirects and empty answers have no body to read.
      if (r.status() < 300 || r.status() >= 400) bytes = await r.body().then((b) => b.length, () => null);
      // Milliseconds from the request's start to the end of its body (-1 when unknown).
      const t = r.request().timing();
      const ms = t.responseEnd >= 0 ? Math.round(t.responseEnd) : null;
      responses.push({ url: u.pathname + u.search, status: r.status(), bytes, wire: Number.isFinite(wire) ? wire : null, ms, step: at });
    })();
    reading.add(p);
    void p.finally(() => reading.delete(p));
  });
  ctx.on('requestfailed', (r) => {
    const f = r.failure()?.errorText ?? '';
    // A request MapLibre or the app drops itself (a tile scrolled away, a superseded load).
    if (/ERR_ABORTED|cancel/i.test(f)) return;
    problems.push(`request failed: ${r.method()} ${r.url()} (${f})`);
  });
}

/** A step held to the budget: timed by the harness (its name has a colon; the budget is
 * checked at the end, so that a slow step still lets the view finish and be measured). */
async function timed(name, page, fn) {
  stepName = name;
  await step(name, page, fn);
}

/** Resolves when the map has drawn everything it has (after a repaint). */
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

/** Waits until no layer is loading, then for the map to be idle; returns the layers' states. */
async function layersSettled(page) {
  await page.waitForFunction(() => [...window.__wangge.app.layers.states.values()].every((s) => s.status !== 'loading'), null, { timeout: 120_000 });
  await waitIdle(page);
  return page.evaluate(() =>
    Object.fromEntries([...window.__wangge.app.layers.states.values()].map((s) => [s.def.id, { status: s.status, visible: s.visible, count: s.count ?? null, message: s.message ?? null }])),
  );
}

/** Features of layer `owner` drawn now in some of its style layers. A city's communities
 * drawn on the communities' vector tiles (a layer's `city` mode) count only when they hold
 * the layer's figures as their feature state: the tiles hold every community. */
const renderedCount = (page, layers, owner) =>
  page.evaluate(
    ([ls, owner]) => {
      const m = window.__wangge.map;
      const city = window.__wangge.app.layers.states.get(owner)?.city === true;
      const found = m.queryRenderedFeatures({ layers: ls.filter((l) => m.getLayer(l)) });
      return (city ? found.filter((f) => f.state?.[owner] === true) : found).length;
    },
    [layers, owner],
  );

/** Features a layer holds (GeoJSON layers). */
const dataCount = (page, id) => page.evaluate((id) => window.__wangge.app.layers.data(id)?.features.length ?? 0, id);

/** A fresh context and page, signed in; the sign-in is a timed step of its own. */
async function freshPage(browser, name) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', serviceWorkers: 'block' });
  record(ctx);
  const page = await ctx.newPage();
  watch(page, name);
  stepName = `${name}: load the sign-in page`;
  await page.goto(args.base + '/');
  await page.getByTestId('login-username').fill(args.admin);
  await page.getByTestId('login-password').fill(password);
  await timed(`${name}: sign in, the map idle with the default layers`, page, async () => {
    await page.getByTestId('login-submit').click();
    await page.waitForFunction(() => window.__wangge?.ready === true, null, { timeout: 120_000 });
    await layersSettled(page);
  });
  return { ctx, page };
}

// ---- the views --------------------------------------------------------------------------------

async function allLayers(browser) {
  const { ctx, page } = await freshPage(browser, 'map');
  const me = await page.evaluate(() => window.__wangge.app.me);
  check(me.role === 'admin' && me.scope.kind === 'region', `signed in as a region's administrator (${me.role}, ${me.scope.kind})`);
  summary.account = { username: me.username, role: me.role, region: me.scope.region };
  let states;
  await timed('map: every layer switched on, the map idle', page, async () => {
    // Every box of the layer list clicked at once (as fast as a hand would, without the
    // driver's round trips between clicks); the list is drawn again after each click.
    const n = await page.evaluate(() => {
      const boxes = () => [...document.querySelectorAll('[data-testid=legend] input[data-layer]')];
      const ids = boxes().map((b) => b.dataset.layer);
      for (const id of ids) {
        const box = boxes().find((b) => b.dataset.layer === id);
        if (box && !box.checked) box.click();
      }
      return ids.length;
    });
    check(n >= 8, `the layer list has ${n} layers`);
    states = await layersSettled(page);
  });
  summary.layers = states;
  const bad = Object.entries(states).filter(([, s]) => s.status !== 'ready' || !s.visible);
  // Layers the app fills itself (the planner's) stay empty and hidden from the list here.
  const listed = bad.filter(([id]) => !id.startsWith('coverage'));
  check(listed.length === 0, `every layer loaded and visible: ${JSON.stringify(listed)}`);
  await shot(page, 'city-all-layers.png');
  await ctx.close();
}

async function partyView(browser) {
  const { ctx, page } = await freshPage(browser, 'party');
  await timed('party view (党): cells and findings drawn, report listed', page, async () => {
    await page.getByTestId('tool-party').click();
    const toggle = page.getByTestId('party-toggle');
    await toggle.waitFor();
    if (!(await toggle.isChecked())) await toggle.check();
    await page.locator('[data-testid=party-rules], [data-testid=party-view] p.muted').first().waitFor({ timeout: 120_000 });
    const states = await layersSettled(page);
    check(states.party.status === 'ready' && states.party_findings.status === 'ready', `party layers ready (${JSON.stringify([states.party, states.party_findings])})`);
  });
  const cells = await renderedCount(page, ['party-fill'], 'party');
  const findings = await renderedCount(page, ['party_findings-circle'], 'party_findings');
  summary.party = { cells_loaded: await dataCount(page, 'party'), cells_drawn: cells, findings_loaded: await dataCount(page, 'party_findings'), findings_drawn: findings };
  check(cells > 0, `party cells drawn (${cells})`);
  check(findings > 0, `findings drawn (${findings})`);
  await shot(page, 'city-party.png');
  await ctx.close();
}

async function plannerPanel(browser) {
  const { ctx, page } = await freshPage(browser, 'planner');
  await timed('planner (◎): figures shown, areas coloured', page, async () => {
    await page.locator('header.top button[title="十分钟服务圈"]').click();
    await page.getByTestId('cov-summary').waitFor({ timeout: 120_000 });
    await page.locator('[data-testid=cov-root][data-busy="0"]').waitFor({ timeout: 120_000 });
    await layersSettled(page);
  });
  const loaded = await dataCount(page, 'coverage');
  const drawn = await renderedCount(page, ['coverage-fill'], 'coverage');
  const residents = await page.getByTestId('cov-summary').locator('[data-field=residents_covered]').innerText();
  summary.planner = { areas_loaded: loaded, areas_drawn: drawn, residents_covered: residents };
  check(/\d/.test(residents), `the residents covered are shown (${residents})`);
  check(drawn > 0, `areas coloured by the share covered (${loaded} loaded, ${drawn} drawn)`);
  await shot(page, 'city-planner.png');
  await ctx.close();
}

async function weekView(browser) {
  const { ctx, page } = await freshPage(browser, 'week');
  await timed('week view (⚑): counts listed, areas coloured', page, async () => {
    await page.getByTestId('tool-patrol-week').click();
    await page.getByTestId('week-counts').waitFor({ timeout: 120_000 });
    const states = await layersSettled(page);
    check(states['patrol-week'].status === 'ready', `the week layer is ready (${JSON.stringify(states['patrol-week'])})`);
  });
  const loaded = await dataCount(page, 'patrol-week');
  const drawn = await renderedCount(page, ['patrol-week-fill'], 'patrol-week');
  summary.week = { areas_loaded: loaded, areas_drawn: drawn };
  check(drawn > 0, `areas coloured by the week's status (${loaded} loaded, ${drawn} drawn)`);
  await shot(page, 'city-week.png');
  await ctx.close();
}

// ---- main -------------------------------------------------------------------------------------

const MB = (n) => Math.round((n / 1048576) * 100) / 100;

await main(
  args,
  artifacts,
  async (browser) => {
    summary.budget_ms = BUDGET_MS;
    summary.max_bytes = MAX_BYTES;
    // Every view is timed, even after another has failed its budget; the first failure is
    // thrown at the end so the summary has them all.
    const failures = [];
    for (const view of [allLayers, partyView, plannerPanel, weekView]) {
      try {
        await view(browser);
      } catch (e) {
        failures.push(e);
        console.error(`  ${e?.message ?? e}`);
      }
    }
    await Promise.all([...reading]);
    const sized = responses.filter((r) => r.bytes !== null);
    const largest = [...sized].sort((a, b) => b.bytes - a.bytes).slice(0, 10);
    summary.responses = {
      count: responses.length,
      bytes: sized.reduce((s, r) => s + r.bytes, 0),
      largest: largest.map((r) => ({ url: r.url, status: r.status, mb: MB(r.bytes), wire_mb: r.wire === null ? null : MB(r.wire), step: r.step })),
    };
    summary.responses.slowest = [...responses]
      .filter((r) => r.ms !== null)
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10)
      .map((r) => ({ url: r.url, ms: r.ms, mb: r.bytes === null ? null : MB(r.bytes), step: r.step }));
    summary.per_step = Object.fromEntries(
      [...new Set(responses.map((r) => r.step))].map((s) => {
        const rs = responses.filter((r) => r.step === s);
        return [s, { responses: rs.length, mb: MB(rs.reduce((t, r) => t + (r.bytes ?? 0), 0)) }];
      }),
    );
    const over = sized.filter((r) => r.bytes > MAX_BYTES);
    const errors = responses.filter((r) => r.status >= 500);
    summary.over_budget = Object.entries(timings).filter(([k, ms]) => k.includes(':') && ms > BUDGET_MS).map(([k, ms]) => ({ step: k, ms }));
    check(summary.over_budget.length === 0, `every step within ${BUDGET_MS} ms: ${JSON.stringify(summary.over_budget)}`);
    check(errors.length === 0, `no answer was a server error: ${JSON.stringify(errors.map((r) => `${r.status} ${r.url}`))}`);
    check(over.length === 0, `no response over ${MAX_BYTES} bytes: ${JSON.stringify(over.map((r) => `${r.url} ${MB(r.bytes)} MB`))}`);
    if (failures.length) throw failures[0];
  },
  'city-',
);
