#!/usr/bin/env node
// Browser test of the planner's coverage panel (the ten-minute service circle): Debian's
// chromium driven by playwright-core against a running server with the demo district.
// tests/browser_coverage.rs starts that server on a fresh database and runs this script:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/coverage.mjs http://127.0.0.1:8080 \
//       --planner USER --viewer USER --chief USER [--artifacts DIR] [--chromium PATH]
//
// Every figure the page shows is compared with the API asked directly by the script (not
// with what the page asked). The planner part saves a station: use a throw-away database.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, signIn as harnessSignIn, step, summary, testPassword, watch } from './harness.mjs';

const args = parseArgs('coverage.mjs', { planner: null, viewer: null, chief: null });
const password = testPassword();
const artifacts = artifactsDir(args);

/** What the planner asks for in this test. */
const KIND = 'elderly_care';
const MINUTES = 15;
const SETTING = { kind: KIND, minutes: MINUTES };
const QUERY = `kind=${KIND}&minutes=${MINUTES}`;
/** The class breaks and colours of the coverage layer (web/src/coverage/classes.ts). */
const BREAKS = [50, 70, 85, 95];
const COLOURS = ['#d7191c', '#fdae61', '#fee08b', '#a6d96a', '#1a9641'];
const NONE = '#bdbdbd';

const digits = (s) => String(s).replace(/[^\d-]/g, '');
const colourOf = (pct) => (pct === null || pct === undefined ? NONE : COLOURS[BREAKS.filter((b) => pct >= b).length]);

async function signIn(browser, user) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, user);
  await harnessSignIn(page, args.base, user, password);
  return page;
}

/** A request from inside the page with its session (and CSRF header); JSON or raw text. */
function call(page, path, body = undefined) {
  return page.evaluate(
    async ({ path, body }) => {
      const csrf = decodeURIComponent(document.cookie.match(/(?:^|;\s*)wangge_csrf=([^;]+)/)?.[1] ?? '');
      const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) };
      const r = await fetch(path, { credentials: 'same-origin', ...init });
      const type = r.headers.get('content-type') ?? '';
      const bytes = new Uint8Array(await r.arrayBuffer());
      const text = new TextDecoder().decode(bytes);
      return { status: r.status, type, head: [...bytes.slice(0, 2)], body: type.startsWith('application/json') ? JSON.parse(text) : text };
    },
    { path, body },
  );
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

/** Waits until the panel has finished computing. */
async function settled(page) {
  await page.locator('[data-testid=cov-root][data-busy="0"]').waitFor({ timeout: 60_000 });
  await waitIdle(page);
}

/** Centres the map on a point and returns the page coordinates of the map's centre. */
async function centreOn(page, at, zoom) {
  const xy = await page.evaluate(
    ({ at, zoom }) => {
      const { map } = window.__wangge;
      map.jumpTo({ center: at, zoom });
      const r = map.getCanvas().getBoundingClientRect();
      return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];
    },
    { at, zoom },
  );
  await waitIdle(page);
  return xy;
}

async function openPanel(page) {
  await page.locator('header.top button[title="十分钟服务圈"]').click();
  await page.getByTestId('cov-summary').waitFor();
  await settled(page);
}

async function field(page, scope, name) {
  return page.getByTestId(scope).locator(`[data-field=${name}]`).innerText();
}

const layerData = (page, id) => page.evaluate((id) => window.__wangge.app.layers.data(id)?.features ?? [], id);
const renderedCount = (page, id) => page.evaluate((id) => window.__wangge.map.queryRenderedFeatures({ layers: [id] }).length, id);

/** The centre of a building's outer ring. */
function centroid(geometry) {
  const ring = geometry.type === 'Polygon' ? geometry.coordinates[0] : geometry.coordinates[0][0];
  const pts = ring.slice(0, -1);
  return [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];
}

// ---- the planner ----------------------------------------------------------------------------

async function chooseSetting(page) {
  await openPanel(page);
  const asked = page.waitForResponse((r) => r.url().includes('/api/coverage?') && r.url().includes(`minutes=${MINUTES}`) && r.url().includes(`kind=${KIND}`));
  await page.getByTestId('cov-kind').selectOption(KIND);
  await settled(page);
  await page.getByTestId(`cov-minutes-${MINUTES}`).click();
  await asked;
  await settled(page);
}

async function checkFigures(page, api) {
  const t = api.totals;
  check(digits(await field(page, 'cov-summary', 'residents_covered')) === String(t.residents_covered), `residents covered ${t.residents_covered}`);
  check(digits(await field(page, 'cov-summary', 'households_covered')) === String(t.households_covered), `households covered ${t.households_covered}`);
  check(parseFloat(await field(page, 'cov-summary', 'residents_pct')) === t.residents_pct, `residents covered ${t.residents_pct}%`);
  const uncovered = t.buildings - t.buildings_covered;
  check(digits(await field(page, 'cov-summary', 'buildings_uncovered')) === String(uncovered), `uncovered buildings ${uncovered}`);
  check(t.residents_covered > 0 && t.residents_covered < t.residents, `the demo has gaps (${t.residents_covered} of ${t.residents})`);
}

async function checkGridColours(page, api) {
  const pct = new Map(api.grids2.map((g) => [g.code, g.residents_pct]));
  const data = await layerData(page, 'coverage');
  check(data.length >= api.grids2.length, `every grid with residents is drawn (${data.length} shapes, ${api.grids2.length} grids)`);
  for (const f of data) check((f.properties.pct ?? null) === (pct.get(f.properties.code) ?? null), `grid ${f.properties.code}: ${f.properties.pct}% vs ${pct.get(f.properties.code)}%`);
  const drawn = await page.evaluate(() =>
    window.__wangge.map.queryRenderedFeatures({ layers: ['coverage-fill'] }).map((f) => {
      const c = f.layer.paint['fill-color'];
      const hex = '#' + [c.r, c.g, c.b].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('');
      return [String(f.properties.code), hex];
    }),
  );
  check(drawn.length > 0, 'coverage grids are rendered');
  for (const [code, hex] of drawn) check(hex === colourOf(pct.get(code)), `grid ${code} (${pct.get(code)}%) is drawn ${hex}, expected ${colourOf(pct.get(code))}`);
  const colours = new Set(drawn.map((d) => d[1]));
  summary.grid_colours = colours.size;
  check(colours.size >= 2, `grids are drawn in ${colours.size} colours`);
}

async function checkGaps(page, api) {
  const gaps = await layerData(page, 'coverage_gaps');
  const codes = new Set(api.uncovered.features.map((f) => f.properties.code));
  check(gaps.length === codes.size && gaps.every((f) => codes.has(f.properties.code) && f.properties.state === 'uncovered'), `the ${codes.size} uncovered buildings are drawn (${gaps.length})`);
  check(codes.size === api.totals.buildings - api.totals.buildings_covered, 'the API lists every uncovered building');
  check((await renderedCount(page, 'coverage_gaps-fill')) > 0, 'uncovered buildings are rendered');
}

async function checkIsochrone(page, me) {
  const stations = (await call(page, `/api/stations?kind=${KIND}&bbox=${me.bbox.join(',')}`)).body.features;
  check(stations.length > 0, `${KIND} stations exist`);
  let code = null;
  for (const s of stations.slice(0, 8)) {
    const [x, y] = await centreOn(page, s.geometry.coordinates, 16);
    await page.mouse.click(x, y);
    const sel = page.getByTestId('cov-selected');
    if ((await sel.count()) && (await sel.getAttribute('data-code')) === s.properties.code) {
      code = s.properties.code;
      break;
    }
  }
  check(code, 'clicking a station selects it in the panel');
  await page.getByTestId('cov-iso').click();
  await page.waitForFunction(() => (window.__wangge.app.layers.data('coverage_iso')?.features.length ?? 0) > 0);
  await settled(page);
  const [iso] = await layerData(page, 'coverage_iso');
  const api = (await call(page, `/api/coverage/isochrone?station=${encodeURIComponent(code)}&minutes=${MINUTES}`)).body;
  check(/Polygon$/.test(iso.geometry.type) && iso.properties.station === code, `a polygon around ${code} (${iso.geometry.type})`);
  check(JSON.stringify(iso.geometry) === JSON.stringify(api.geometry), 'the isochrone is the API\'s');
  check((await renderedCount(page, 'coverage_iso-fill')) > 0, 'the isochrone is rendered');
  await page.screenshot({ path: join(artifacts, 'coverage-isochrone.png') });
}

/** The new station, still selected, shows the area walkable from where it was placed: the
 * API's isochrone from that point. */
async function checkWhatIfIsochrone(page, change) {
  const sel = page.getByTestId('cov-selected');
  check((await sel.getAttribute('data-code')) === change.code, `the new station is selected (${await sel.getAttribute('data-code')})`);
  await page.getByTestId('cov-iso').click();
  await page.waitForFunction((code) => (window.__wangge.app.layers.data('coverage_iso')?.features ?? []).some((f) => f.properties.station === code), change.code);
  const iso = (await layerData(page, 'coverage_iso')).find((f) => f.properties.station === change.code);
  const api = (await call(page, `/api/coverage/isochrone?lon=${change.lon}&lat=${change.lat}&minutes=${MINUTES}`)).body;
  check(/Polygon$/.test(iso.geometry.type) && JSON.stringify(iso.geometry) === JSON.stringify(api.geometry), 'the what-if isochrone is the API\'s from the placed point');
  check(JSON.stringify(api.properties.at) === JSON.stringify([change.lon, change.lat]), `walked from the placed point (${JSON.stringify(api.properties.at)})`);
  await settled(page);
  check((await renderedCount(page, 'coverage_iso-fill')) > 0, 'the what-if isochrone is rendered');
  await page.screenshot({ path: join(artifacts, 'coverage-whatif-isochrone.png') });
}

/** Places a what-if station on the most populous uncovered building; returns the change. */
async function placeStation(page, target) {
  const [x, y] = await centreOn(page, target, 17);
  await page.getByTestId('cov-place').click();
  const asked = page.waitForResponse((r) => r.url().endsWith('/api/coverage/scenario') && r.request().method() === 'POST');
  await page.mouse.click(x, y);
  const res = await asked;
  check(res.status() === 200, `the scenario is computed (${res.status()})`);
  await page.getByTestId('cov-scenario').waitFor();
  await settled(page);
  const [change] = JSON.parse(res.request().postData()).changes;
  check(change.op === 'add' && change.kind === KIND, `a new ${KIND} station (${JSON.stringify(change)})`);
  check(Math.abs(change.lon - target[0]) < 1e-4 && Math.abs(change.lat - target[1]) < 1e-4, `placed where clicked (${change.lon}, ${change.lat} vs ${target})`);
  // The what-if station is drawn above the labels of the base map (grid names and codes,
  // communities, streets, buildings, stations); other markers (findings, incidents) may
  // share its band.
  const order = await page.evaluate(() => {
    const layers = window.__wangge.map.getStyle().layers;
    const at = layers.findIndex((l) => l.id === 'coverage_plan-circle');
    const base = /^(streets|communities|grids1|grids2|buildings|stations)-/;
    const labels = (ls) => ls.filter((l) => l.type === 'symbol' && base.test(l.id)).map((l) => l.id);
    return { at, below: labels(layers.slice(0, at)), labelsAbove: labels(layers.slice(at + 1)) };
  });
  check(order.at >= 0 && order.below.some((id) => id.startsWith('grids')), `grid labels are drawn, below the what-if marker (${order.below})`);
  check(order.labelsAbove.length === 0, `the what-if marker is above the labels (labels above it: ${order.labelsAbove})`);
  return change;
}

async function checkScenario(page, change, before) {
  const sc = (await call(page, '/api/coverage/scenario', { ...SETTING, changes: [change] })).body;
  check(sc.change.residents_covered > 0, `the new station covers more residents (${sc.change.residents_covered})`);
  check(digits(await field(page, 'cov-scenario', 'after_residents_covered')) === String(sc.after.residents_covered), `after: ${sc.after.residents_covered} residents covered`);
  check(digits(await field(page, 'cov-scenario', 'after_households_covered')) === String(sc.after.households_covered), `after: ${sc.after.households_covered} households covered`);
  check(digits(await field(page, 'cov-scenario', 'change_residents')) === String(sc.change.residents_covered), `change: ${sc.change.residents_covered}`);
  const gaps = await layerData(page, 'coverage_gaps');
  const newly = gaps.filter((f) => f.properties.state === 'newly_covered').length;
  check(newly === sc.newly_covered.length, `${sc.newly_covered.length} buildings drawn as newly covered (${newly})`);
  const again = (await call(page, `/api/coverage?${QUERY}`)).body;
  check(JSON.stringify(again.totals) === JSON.stringify(before.totals), 'nothing was saved: the coverage is unchanged');
  const codes = (await call(page, `/api/stations?kind=${KIND}`)).body.features.map((f) => f.properties.code);
  check(!codes.includes(change.code), 'nothing was saved: no new station');
  await page.screenshot({ path: join(artifacts, 'coverage-scenario.png') });
  return sc;
}

async function checkSiting(page) {
  await page.getByTestId('cov-new-kind').selectOption(KIND);
  await page.getByTestId('cov-k').fill('2');
  await page.getByTestId('cov-k').press('Tab');
  await page.getByTestId('cov-siting-run').click();
  await page.getByTestId('cov-sites').waitFor();
  await settled(page);
  const api = (await call(page, '/api/coverage/siting', { kind: KIND, k: 2, minutes: MINUTES, candidates: 'nodes' })).body;
  check(api.picks.length === 2, `the API proposes 2 sites (${api.picks.length})`);
  const shown = await page.getByTestId('cov-sites').locator('[data-field=gain_residents]').allTextContents();
  check(shown.length === 2, `2 proposals shown (${shown.length})`);
  check(shown.every((g, i) => g === String(api.picks[i].gain_residents)), `gains ${shown} equal the API's ${api.picks.map((p) => p.gain_residents)}`);
  const picks = (await layerData(page, 'coverage_plan')).filter((f) => f.properties.role === 'pick');
  check(picks.length === 2 && picks.every((f, i) => f.geometry.coordinates[0] === api.picks[i].lon), 'the proposed sites are on the map');
}

async function save(page, change, sc) {
  const saved = page.waitForResponse((r) => r.url().endsWith('/api/coverage/scenario/save'));
  await page.getByTestId('cov-save').click();
  await page.getByTestId('cov-save-confirm').click();
  const res = await saved;
  check(res.status() === 200, `the scenario is saved (${res.status()})`);
  check((await res.json()).stations.includes(change.code), 'the saved station keeps its code');
  await page.getByTestId('cov-changes').waitFor({ state: 'detached' });
  await settled(page);
  const codes = (await call(page, `/api/stations?kind=${KIND}`)).body.features.map((f) => f.properties.code);
  check(codes.includes(change.code), `station ${change.code} exists after saving`);
  const now = (await call(page, `/api/coverage?${QUERY}`)).body;
  check(JSON.stringify(now.totals) === JSON.stringify(sc.after), 'the coverage after saving is the scenario\'s');
  check(digits(await field(page, 'cov-summary', 'residents_covered')) === String(now.totals.residents_covered), 'the panel shows the new coverage');
  summary.saved = change.code;
  summary.kind = KIND;
}

async function checkReports(page) {
  const want = { csv: 'text/csv', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' };
  for (const [format, type] of Object.entries(want)) {
    const href = await page.getByTestId(`cov-report-${format}`).getAttribute('href');
    check(href.includes(`kind=${KIND}`) && href.includes(`minutes=${MINUTES}`) && href.includes(`format=${format}`), `the ${format} link follows the setting: ${href}`);
    const r = await call(page, href);
    check(r.status === 200 && r.type.startsWith(type), `${format}: ${r.status} ${r.type}`);
    check(href.includes('lang=zh'), `the ${format} link asks for the report for people in the interface's language: ${href}`);
    if (format === 'csv') {
      const [title, header] = r.body.replace(/^\ufeff/, '').split('\n');
      check(title.startsWith('十分钟服务圈 · '), `the CSV opens with its title: ${title}`);
      check(header.startsWith('社区代码,社区,'), `then its Chinese header: ${header}`);
    }
    else check(r.head[0] === 0x50 && r.head[1] === 0x4b, 'the XLSX is a zip');
  }
}

async function plannerTour(browser) {
  const page = await step('planner: sign in', null, () => signIn(browser, args.planner));
  const me = (await call(page, '/api/auth/me')).body;
  await step('planner: open the panel, choose a kind and minutes', page, () => chooseSetting(page));
  const api = (await call(page, `/api/coverage?${QUERY}`)).body;
  await step('planner: the figures are the API\'s', page, () => checkFigures(page, api));
  await step('planner: grid colours follow the per-grid %', page, () => checkGridColours(page, api));
  await step('planner: the uncovered buildings are drawn', page, () => checkGaps(page, api));
  await page.screenshot({ path: join(artifacts, 'coverage-planner.png') });
  await step('planner: an isochrone on demand', page, () => checkIsochrone(page, me));
  const target = centroid([...api.uncovered.features].sort((a, b) => b.properties.residents - a.properties.residents)[0].geometry);
  summary.target = target;
  const change = await step('planner: place a what-if station', page, () => placeStation(page, target));
  const sc = await step('planner: the numbers change, nothing is saved', page, () => checkScenario(page, change, api));
  await step("planner: the what-if station's isochrone, from where it is placed", page, () => checkWhatIfIsochrone(page, change));
  await step('planner: siting with K = 2', page, () => checkSiting(page));
  await step('planner: save the scenario', page, () => save(page, change, sc));
  await step('planner: the reports download', page, () => checkReports(page));
  await page.context().close();
}

// ---- accounts that may only look ---------------------------------------------------------------

async function lookerTour(browser, user) {
  const page = await step(`${user}: sign in`, null, () => signIn(browser, user));
  await step(`${user}: may try a scenario but not save it`, page, async () => {
    await openPanel(page);
    const [x, y] = await centreOn(page, summary.target, 17);
    await page.getByTestId('cov-place').click();
    const asked = page.waitForResponse((r) => r.url().endsWith('/api/coverage/scenario'));
    await page.mouse.click(x, y);
    check((await asked).status() === 200, 'the scenario is computed');
    await page.getByTestId('cov-scenario').waitFor();
    await settled(page);
    check((await page.getByTestId('cov-save').count()) === 0, 'no save button');
    check((await page.getByTestId('cov-save-denied').count()) === 1, 'the panel says why');
    await page.getByTestId('lang').click();
    await page.getByTestId('cov-summary').getByText('Residents covered').waitFor({ timeout: 5_000 });
    check((await page.getByTestId('cov-save-denied').innerText()).includes('planner'), 'the panel switches to English');
    const heading = (await page.locator('.side-panel .panel-title').innerText()).trim();
    check(/^[\x20-\x7e]+$/.test(heading), `the panel's title is in English too: ${heading}`);
    await page.getByTestId('lang').click();
    await page.getByTestId('cov-summary').getByText('覆盖居民').waitFor({ timeout: 5_000 });
  });
  await page.context().close();
}

// ---- main -------------------------------------------------------------------------------------

await main(
  args,
  artifacts,
  async (browser) => {
    await plannerTour(browser);
    await lookerTour(browser, args.viewer);
    await lookerTour(browser, args.chief);
  },
  'coverage-',
);
