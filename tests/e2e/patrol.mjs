#!/usr/bin/env node
// Browser test of patrol mode and the week view (issue 6): Debian's chromium driven by
// playwright-core against a running server with the demo district. tests/browser_patrol.rs
// starts that server on a fresh database, creates the accounts and runs this script; by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/patrol.mjs http://127.0.0.1:8080 \
//       --patrol PATROL_USER --chief CHIEF_USER [--walk POINTS] [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// The patrol account must be linked to a staff record and assigned to a first-level grid
// whose chief is the chief account. What it does, on a phone-sized page:
//   1. signs in as the patrol account and waits until the service worker controls the page;
//   2. cuts the network (context.setOffline), starts a patrol of one second-level grid and
//      walks a path inside it with simulated geolocation (context.setGeolocation), one fix
//      at a time at walking-to-cycling speed; taps a building and ticks two of its
//      households (their doors kept on the phone while it was online); reports an incident with a photo; reloads the page (still offline: the app
//      comes from the service worker, the patrol from IndexedDB) and walks on; ends it;
//   3. checks that the visible queue holds every upload as pending and nothing reached the
//      server;
//   4. restores the network, with the acknowledgement of one track chunk lost on the way
//      back (the server commits it, the browser sees a reset connection), lets the queue
//      sync, and checks through the API that the patrol with all its points, the visit,
//      the incident and its photo are stored exactly once;
//   5. puts the same uploads in the queue again (a phone that lost every acknowledgement)
//      and syncs: the server answers each as a repeat and nothing changes;
//   6. signs in as the grid chief, opens the week view and checks that the grid is shown as
//      patrolled, the track is drawn and the incident is a point; opens the building's panel:
//      the two households ticked are marked visited (by whom), no other.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, photoPng, signIn as harnessSignIn, step as harnessStep, summary, testPassword, watch } from './harness.mjs';

const args = parseArgs('patrol.mjs', { patrol: null, chief: null, walk: '110' });
const password = testPassword();
const artifacts = artifactsDir(args);

/** Points walked (by default two full chunks of 50 and a short one); more than the 90
 * walked before the offline reload. */
const WALK = Number(args.walk);
if (!Number.isInteger(WALK) || WALK <= 90 || WALK > 400) throw new Error(`--walk must be a whole number from 91 to 400, got ${WALK}`);
/** Metres between fixes and the least time between them: 3 m in ≥ 0.45 s is under 25 km/h,
 * below the server's 30 km/h speed flag. */
const STEP_M = 3;
const STEP_MS = 450;

// ---- checks and timing --------------------------------------------------------------------

/** The page a failure is photographed from when a step names none. */
let activePage = null;

/** A step on the page given, or else on `activePage`. */
const step = (name, fn, page = null) => harnessStep(name, page ?? activePage, fn);

const signIn = (page, user) => harnessSignIn(page, args.base, user, password);

/** A request from inside the page, with its session (and CSRF token for writes). */
function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin', cache: 'no-store' });
    const text = await r.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: r.status, body };
  }, path);
}

// ---- geometry of the walk -----------------------------------------------------------------

function inRing(p, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function inPolygon(p, g) {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  return polys.some((rings) => inRing(p, rings[0]) && !rings.slice(1).some((r) => inRing(p, r)));
}

function bbox(g) {
  const pts = (g.type === 'Polygon' ? g.coordinates : g.coordinates.flat()).flat();
  return [Math.min(...pts.map((p) => p[0])), Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[1]))];
}

/** `n` positions `stepM` apart walking back and forth along the longest east-west line
 * inside the grid (tried at several latitudes), well away from its edges. */
function walkInside(geometry, n, stepM) {
  const [w, s, e, nn] = bbox(geometry);
  let best = null;
  const keep = (run) => {
    if (run && (!best || run.end - run.start > best.end - best.start)) best = run;
  };
  for (const f of [0.5, 0.4, 0.6, 0.3, 0.7]) {
    const lat = s + (nn - s) * f;
    const dx = (e - w) / 400;
    let run = null;
    for (let x = w; x <= e; x += dx) {
      if (inPolygon([x, lat], geometry)) {
        if (run) run.end = x;
        else run = { start: x, end: x, lat };
      } else {
        keep(run);
        run = null;
      }
    }
    keep(run);
  }
  if (!best) throw new Error('no line inside the grid');
  const margin = (best.end - best.start) * 0.15;
  const x0 = best.start + margin;
  const x1 = best.end - margin;
  const mPerDegLon = 111_320 * Math.cos((best.lat * Math.PI) / 180);
  const stepDeg = stepM / mPerDegLon;
  const out = [];
  let x = x0;
  let dir = 1;
  for (let i = 0; i < n; i++) {
    out.push([Number(x.toFixed(7)), Number(best.lat.toFixed(7))]);
    if (x + dir * stepDeg > x1 || x + dir * stepDeg < x0) dir = -dir;
    x += dir * stepDeg;
  }
  for (const p of out) if (!inPolygon(p, geometry)) throw new Error(`walk point ${p} outside the grid`);
  return { points: out, lengthM: (x1 - x0) * mPerDegLon };
}

// ---- the patrol phone ---------------------------------------------------------------------

const state = () => window.__wanggePatrol;

async function waitPatrolReady(page) {
  await page.waitForFunction(() => window.__wangge?.ready === true && document.querySelector('[data-testid=patrol-bar]')?.dataset.ready === '1', null, { timeout: 90_000 }).catch(async (e) => {
    // Say what is missing: the map (and which layer) or patrol mode.
    const why = await page.evaluate(() => ({
      map_ready: window.__wangge?.ready ?? null,
      map_loaded: window.__wangge?.map.loaded() ?? null,
      bar_ready: document.querySelector('[data-testid=patrol-bar]')?.dataset.ready ?? null,
      layers: window.__wangge ? [...window.__wangge.app.layers.states.entries()].map(([id, s]) => `${id}:${s.status}${s.message ? ` (${s.message})` : ''}`) : null,
    }));
    throw new Error(`patrol page not ready: ${JSON.stringify(why)}: ${e.message}`);
  });
}

/** Counts of the outbox as the page holds them. */
function queueState(page) {
  return page.evaluate(() => {
    const p = window.__wanggePatrol;
    return {
      items: p.outbox.items.map((i) => ({ kind: i.kind, status: i.status, attempts: i.attempts, url: i.url, error: i.error ?? null })),
      sent: p.outbox.sent.map((s) => ({ kind: s.kind, status: s.status, replayed: s.replayed, url: s.url })),
      points: p.recorder.running?.points ?? null,
    };
  });
}

/** Each map layer's load status (ready, loading, offline, unavailable, error). */
function layerStatuses(page) {
  return page.evaluate(() => Object.fromEntries([...window.__wangge.app.layers.states].map(([id, st]) => [id, st.status])));
}

/** A pixel of building `code` on the map, clear of the overlays. */
async function buildingPixel(page, code) {
  return page.evaluate((code) => {
    const { map, app } = window.__wangge;
    const rect = map.getCanvas().getBoundingClientRect();
    const covered = [...document.querySelectorAll('.legend, .side-panel, .patrol-bar, .maplibregl-ctrl, header')]
      .filter((e) => e.offsetParent !== null)
      .map((e) => e.getBoundingClientRect());
    const free = (x, y) => !covered.some((r) => x >= r.left - 4 && x <= r.right + 4 && y >= r.top - 4 && y <= r.bottom + 4);
    const is = (cx, cy) => {
      const p = app.layers.pickAt([cx, cy], 0);
      return p && p.layer === 'buildings' && String(p.feature.properties.code) === code;
    };
    for (let y = 10; y < rect.height; y += 4) {
      for (let x = 10; x < rect.width; x += 4) {
        if (!free(rect.left + x, rect.top + y)) continue;
        if ([[0, 0], [3, 0], [-3, 0], [0, 3], [0, -3]].every(([dx, dy]) => is(x + dx, y + dy))) return [rect.left + x, rect.top + y];
      }
    }
    return null;
  }, code);
}

async function patrolTour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 860 }, deviceScaleFactor: 1, locale: 'zh-CN', hasTouch: false });
  await ctx.grantPermissions(['geolocation'], { origin: args.base });
  const page = await ctx.newPage();
  activePage = page;
  watch(page, 'patrol');
  await step('patrol: sign in, patrol bar and service worker ready', async () => {
    await signIn(page, args.patrol);
    await waitPatrolReady(page);
    // The service worker controls the page once it has activated (clients.claim).
    await page.waitForFunction(() => navigator.serviceWorker?.controller !== null && navigator.serviceWorker?.controller !== undefined, null, { timeout: 30_000 });
    const me = (await api(page, '/api/auth/me')).body;
    check(me.role === 'patrol', `signed in as a patrol account, got ${me.role}`);
    summary.scope = me.scope.grids;
    // The worker fetched ahead the map of the account's area.
    summary.offline_urls = await page.evaluate(() => window.__wanggePatrol.mode.warmed);
    check(summary.offline_urls > 50, `the service worker holds the area's map (${summary.offline_urls} URLs)`);
  });

  // The grid to patrol: the first second-level grid of the account's first-level grid.
  const grids = (await api(page, '/api/grids?level=2')).body.features.filter((f) => summary.scope.includes(f.properties.parent_code) || summary.scope.includes(f.properties.code));
  grids.sort((a, b) => a.properties.code.localeCompare(b.properties.code));
  const grid = grids[0];
  check(grid, `a second-level grid in the scope ${summary.scope}`);
  const code = grid.properties.code;
  summary.grid = code;
  const walk = walkInside(grid.geometry, WALK, STEP_M);
  summary.walk_line_m = Math.round(walk.lengthM);
  const buildings = (await api(page, `/api/buildings?bbox=${bbox(grid.geometry).join(',')}`)).body.features.filter((f) => f.properties.grid_code === code && f.properties.households >= 2);
  check(buildings.length > 0, `buildings with households in grid ${code}`);
  // A large building near the walk is easiest to tap.
  buildings.sort((a, b) => b.properties.households - a.properties.households);
  const building = buildings[0].properties;
  // Two of its households are ticked in the visit form.
  const visited = 2;
  summary.building = building.code;
  summary.households_visited = visited;
  const png = photoPng();
  summary.photo_sha256 = createHash('sha256').update(png).digest('hex');

  const requests = [];
  page.on('request', (r) => {
    if (r.method() === 'PUT') requests.push({ url: r.url(), at: Date.now() });
  });

  const idle = () => page.evaluate(() => new Promise((res) => { window.__wangge.map.once('idle', () => res(true)); window.__wangge.map.triggerRepaint(); }));
  const bb = bbox(buildings[0].geometry);
  const buildingView = { center: [(bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2], zoom: 17.5 };
  await step('patrol: look at the grid while online (the phone keeps what it saw)', async () => {
    await page.evaluate((v) => window.__wangge.map.jumpTo(v), buildingView);
    await idle();
    const b = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['buildings-fill'] }).length);
    check(b > 0, 'buildings drawn');
  });

  await step('patrol: the households of my grid are kept for a visit offline', async () => {
    await page.waitForFunction((b) => (window.__wanggePatrol.mode.doors.of(b)?.length ?? 0) >= 2, building.code, { timeout: 30_000 });
  });

  await step('patrol: cut the network', async () => {
    await ctx.setOffline(true);
    await page.waitForFunction(() => navigator.onLine === false);
    await page.getByTestId('net-status').and(page.locator('[data-online=false]')).waitFor({ timeout: 5_000 });
  });

  await ctx.setGeolocation({ longitude: walk.points[0][0], latitude: walk.points[0][1], accuracy: 5 });
  await step('patrol: start a patrol offline', async () => {
    await page.getByTestId('patrol-grid').selectOption(code);
    await page.getByTestId('patrol-start').click();
    await page.waitForFunction(() => window.__wanggePatrol.recorder.running !== null);
    await page.waitForFunction(() => (window.__wanggePatrol.recorder.running?.points ?? 0) >= 1, null, { timeout: 20_000 });
  });

  let lastFixAt = Date.now();
  /** Moves the simulated position along the walk until `upto` points are recorded. */
  const walkTo = async (upto) => {
    for (;;) {
      const n = await page.evaluate(() => window.__wanggePatrol.recorder.running?.points ?? 0);
      if (n >= upto) return;
      const wait = STEP_MS - (Date.now() - lastFixAt);
      if (wait > 0) await page.waitForTimeout(wait);
      const [lon, lat] = walk.points[n];
      await ctx.setGeolocation({ longitude: lon, latitude: lat, accuracy: 4 + (n % 5) });
      await page.waitForFunction((want) => (window.__wanggePatrol.recorder.running?.points ?? 0) >= want, n + 1, { timeout: 15_000 }).catch(async (e) => {
        const why = await page.evaluate(() => ({ skipped: window.__wanggePatrol.recorder.skipped, seen: window.__wanggePatrol.recorder.lastSeen, last: window.__wanggePatrol.recorder.running?.last }));
        throw new Error(`fix ${n + 1} at ${lon},${lat} not recorded: ${JSON.stringify(why)}: ${e.message}`);
      });
      lastFixAt = Date.now();
    }
  };

  await step('patrol: walk 40 points', () => walkTo(40));

  await step('patrol: tap a building and record households visited', async () => {
    // Back to the building (starting the patrol showed the whole grid).
    await page.evaluate((v) => window.__wangge.map.jumpTo(v), buildingView);
    await idle();
    const at = await buildingPixel(page, building.code);
    check(at, `a tappable pixel of building ${building.code}`);
    await page.mouse.click(at[0], at[1]);
    const form = page.getByTestId('visit-form');
    await form.waitFor();
    check((await form.getAttribute('data-building')) === building.code, 'the visit form is for the tapped building');
    // No household is counted until the patrol says so (a form starting at the building's
    // total recorded every household with one tap): a checkbox per household, none ticked.
    const boxes = page.getByTestId('visit-doors').locator('input[type=checkbox]');
    await boxes.first().waitFor();
    const states = await boxes.evaluateAll((els) => els.map((e) => ({ door: e.dataset.door, on: e.checked })));
    check(states.length >= visited && states.every((x) => !x.on), `the visit form lists the households, none ticked (${states.length})`);
    summary.doors_ticked = [];
    for (const i of [0, 1]) {
      await boxes.nth(i).check();
      summary.doors_ticked.push(states[i].door);
    }
    check(/2/.test(await page.getByTestId('visit-count').innerText()), 'the count is the number ticked');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `the visit form fits the phone (${width} px)`);
    await page.screenshot({ path: join(artifacts, 'patrol-visit-doors.png') });
    await page.getByTestId('visit-save').click();
    await page.getByTestId('patrol-visits').and(page.locator('[data-value="1"]')).waitFor();
    await page.screenshot({ path: join(artifacts, 'patrol-visit.png') });
  });

  await step('patrol: walk to 75 points', () => walkTo(75));

  await step('patrol: report an incident with a photo', async () => {
    await page.getByTestId('patrol-incident').click();
    await page.getByTestId('incident-category').selectOption('safety_hazard');
    await page.getByTestId('incident-description').fill('楼道堆放杂物，堵塞消防通道（e2e）');
    await page.getByTestId('incident-photo').setInputFiles({ name: 'hazard.png', mimeType: 'image/png', buffer: png });
    await page.getByTestId('incident-thumbs').locator('img').waitFor();
    await page.screenshot({ path: join(artifacts, 'patrol-incident-form.png') });
    await page.getByTestId('incident-submit').click();
    await page.getByTestId('patrol-incidents').and(page.locator('[data-value="1"]')).waitFor();
  });

  await step('patrol: walk to 90 points', () => walkTo(90));

  let offlineLayers = [];
  await step('patrol: reload offline, the patrol resumes', async () => {
    const before = await page.evaluate(() => ({ id: window.__wanggePatrol.recorder.running.id, points: window.__wanggePatrol.recorder.running.points, queued: window.__wanggePatrol.outbox.items.length }));
    await page.reload();
    await waitPatrolReady(page);
    await page.waitForFunction(() => window.__wanggePatrol.recorder.running !== null, null, { timeout: 20_000 });
    const after = await page.evaluate(() => ({ id: window.__wanggePatrol.recorder.running.id, points: window.__wanggePatrol.recorder.running.points, queued: window.__wanggePatrol.outbox.items.length, online: navigator.onLine }));
    check(!after.online, 'still offline after the reload');
    check(after.id === before.id && after.points === before.points && after.queued === before.queued, `the patrol resumed as it was: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    summary.reload_resumed = after;
    // The map came from the service worker's cache too.
    const drawn = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['grids2-fill'] }).length);
    summary.offline_grids_drawn = drawn;
    check(drawn > 0, 'grids drawn from the cache after an offline reload');
    // Layers the cache cannot answer say "offline" (not an error) and wait for the network.
    const statuses = await layerStatuses(page);
    summary.layers_after_offline_reload = statuses;
    offlineLayers = Object.keys(statuses).filter((id) => statuses[id] === 'offline');
    check(!Object.values(statuses).includes('error'), `no layer in error while offline: ${JSON.stringify(statuses)}`);
    check(offlineLayers.length === 0 || (await page.locator('.legend [data-status="offline"]').count()) > 0, 'the legend marks the layers waiting for the network');
    lastFixAt = Date.now();
  });

  await step('patrol: walk to the end', () => walkTo(WALK));

  const patrolId = await page.evaluate(() => window.__wanggePatrol.recorder.running.id);
  summary.patrol_id = patrolId;
  await step('patrol: end the patrol', async () => {
    await page.getByTestId('patrol-end').click();
    await page.getByTestId('end-form').waitFor();
    await page.getByTestId('patrol-notes').fill('e2e 离线巡查');
    await page.getByTestId('patrol-end-confirm').click();
    await page.waitForFunction(() => window.__wanggePatrol.recorder.running === null);
  });

  const expected = { patrol: 1, chunk: Math.ceil(WALK / 50), incident: 1, photo: 1, end: 1 };
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  await step('patrol: the queue shows every upload pending, none sent', async () => {
    const q = await queueState(page);
    const kinds = {};
    for (const i of q.items) kinds[i.kind] = (kinds[i.kind] ?? 0) + 1;
    check(Object.keys(expected).every((k) => kinds[k] === expected[k]) && q.items.length === total, `queued ${JSON.stringify(kinds)}, want ${JSON.stringify(expected)}`);
    check(q.items.every((i) => i.status === 'pending'), 'every item pending');
    check(q.sent.length === 0, 'nothing acknowledged while offline');
    const badge = page.getByTestId('queue-badge');
    check((await badge.getAttribute('data-pending')) === String(total), `the badge says ${total} pending`);
    await badge.click();
    await page.getByTestId('queue-items').waitFor();
    const rows = await page.getByTestId('queue-items').locator('li.queue-item').evaluateAll((ls) => ls.map((l) => [l.dataset.kind, l.dataset.status]));
    check(rows.length === total && rows.every(([, s]) => s === 'pending'), `the visible queue lists ${rows.length} pending items`);
    check(rows[0][0] === 'patrol' && rows[rows.length - 1][0] === 'end', `in order: ${rows.map((r) => r[0])}`);
    const text = await page.getByTestId('queue').innerText();
    check(text.includes('轨迹第 1 段') && text.includes('事件照片'), 'queue items are described in Chinese');
    await page.screenshot({ path: join(artifacts, 'patrol-queue-offline.png') });
    // Keep copies of the uploads in the page, to send them all again later.
    await page.evaluate(() => {
      window.__e2eSaved = window.__wanggePatrol.outbox.items.map((i) => ({ ...i }));
    });
    summary.queued = kinds;
  });
  const offlinePuts = requests.filter((r) => r.url.includes('/api/')).length;
  summary.puts_while_offline = offlinePuts;

  // The acknowledgement of chunk 1 is lost once: the server stores it, the phone sees a
  // reset connection and must send it again.
  let lost = 0;
  await ctx.route(/\/api\/patrols\/[^/]+\/chunks\/1$/, async (route) => {
    if (route.request().method() !== 'PUT' || lost > 0) return route.fallback();
    lost++;
    const r = await route.fetch();
    summary.lost_ack_status = r.status();
    await route.abort('connectionreset');
  });

  const t0 = Date.now();
  await step('patrol: restore the network and sync once', async () => {
    await ctx.setOffline(false);
    await page.waitForFunction(() => window.__wanggePatrol.outbox.items.length === 0, null, { timeout: 90_000, polling: 200 });
    summary.sync_ms = Date.now() - t0;
    const q = await queueState(page);
    check(lost === 1 && summary.lost_ack_status === 201, `one acknowledgement was lost after the server stored the chunk (status ${summary.lost_ack_status})`);
    const chunk1 = q.sent.filter((s) => s.url.endsWith('/chunks/1'));
    check(chunk1.length === 1 && chunk1[0].replayed, `chunk 1 was sent again and recognised as a repeat: ${JSON.stringify(chunk1)}`);
    check(q.sent.length === total, `${q.sent.length} acknowledged, want ${total}`);
    check(q.sent.filter((s) => !s.url.endsWith('/chunks/1')).every((s) => s.status === 201 && !s.replayed), 'every other upload was new to the server (201)');
    await page.getByTestId('queue-badge').and(page.locator('[data-pending="0"][data-failed="0"]')).waitFor();
    // The layers that waited for the network have loaded.
    await page
      .waitForFunction((ids) => ids.every((id) => window.__wangge.app.layers.states.get(id)?.status === 'ready'), offlineLayers, { timeout: 30_000, polling: 200 })
      .catch(() => {});
    const statuses = await layerStatuses(page);
    check(offlineLayers.every((id) => statuses[id] === 'ready'), `layers loaded once online: ${JSON.stringify(statuses)}`);
    await page.screenshot({ path: join(artifacts, 'patrol-queue-synced.png') });
  });
  await ctx.unroute(/\/api\/patrols\/[^/]+\/chunks\/1$/);

  /** What the server holds, through the API. */
  const stored = async () => {
    const p = (await api(page, `/api/patrols/${patrolId}`)).body;
    const week = (await api(page, '/api/patrols?mine=true')).body.features;
    const incidents = (await api(page, `/api/incidents?grid=${code}`)).body.features;
    const incident = incidents[0] ? (await api(page, `/api/incidents/${incidents[0].properties.id}`)).body : null;
    return {
      week_patrols: week.length,
      complete: p.complete,
      points: p.points,
      track_points: p.track?.coordinates?.length ?? null,
      chunks: p.chunks,
      households: p.households,
      incidents_of_patrol: p.incidents,
      incidents_in_grid: incidents.length,
      incident_patrol: incident?.patrol_id ?? null,
      incident_category: incident?.category ?? null,
      photos: incident?.photos?.map((x) => ({ id: x.id, sha256: x.sha256, bytes: x.bytes, type: x.content_type })) ?? [],
      speed_flags: p.speed_flags?.length ?? null,
      share_inside: p.grids?.[0]?.share_inside ?? null,
      incident_id: incidents[0]?.properties.id ?? null,
    };
  };

  let first;
  await step('patrol: the server holds everything exactly once', async () => {
    first = await stored();
    summary.stored = first;
    check(first.week_patrols === 1, `one patrol this week, got ${first.week_patrols}`);
    check(first.complete === true, 'the patrol is complete');
    check(first.points === WALK && first.track_points === WALK, `all ${WALK} points stored (points ${first.points}, track ${first.track_points})`);
    check(JSON.stringify(first.chunks.received) === JSON.stringify([0, 1, 2]) && first.chunks.missing.length === 0, `chunks ${JSON.stringify(first.chunks)}`);
    check(first.households.length === 1 && first.households[0].building === building.code && first.households[0].households === visited, `one visit: ${JSON.stringify(first.households)}`);
    check(first.incidents_in_grid === 1 && first.incidents_of_patrol.length === 1 && first.incident_patrol === patrolId, 'one incident, on this patrol');
    check(first.incident_category === 'safety_hazard', 'the incident category');
    check(first.photos.length === 1 && first.photos[0].sha256 === summary.photo_sha256 && first.photos[0].bytes === png.length && first.photos[0].type === 'image/png', `one photo, byte for byte: ${JSON.stringify(first.photos)}`);
    check(first.speed_flags === 0, `no segment flagged as too fast (${first.speed_flags})`);
    check(first.share_inside >= 0.99, `the walk is inside the grid (${first.share_inside})`);
    const bytes = await page.evaluate(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer()).length, `/api/incidents/${first.incident_id}/photos/${first.photos[0].id}`);
    check(bytes === png.length, 'the photo is served back');
    summary.incident_id = first.incident_id;
  });

  await step('patrol: sending the whole queue again changes nothing', async () => {
    const before = await page.evaluate(() => window.__wanggePatrol.outbox.sent.length);
    await page.evaluate(() => window.__wanggePatrol.outbox.restore(window.__e2eSaved));
    await page.waitForFunction(() => window.__wanggePatrol.outbox.items.length === 0, null, { timeout: 60_000, polling: 200 });
    const q = await queueState(page);
    const again = q.sent.slice(0, q.sent.length - before);
    check(again.length === total, `${again.length} sent again, want ${total}`);
    check(again.every((s) => s.status === 200 && s.replayed), `every repeat answered 200 Idempotent-Replayed: ${JSON.stringify(again.map((s) => [s.kind, s.status, s.replayed]))}`);
    const second = await stored();
    check(JSON.stringify(second) === JSON.stringify(first), `the server holds the same after the repeat:\n${JSON.stringify(first)}\n${JSON.stringify(second)}`);
  });
  await step('patrol: an expired session keeps the queue and sends it after signing in again', async () => {
    // The session cookie is gone (as when the session expired): the next upload gets 401.
    await ctx.clearCookies();
    // (The 401 reloads the page, which may end this call before it returns: what counts
    // is checked below.)
    await page.evaluate(() => window.__wanggePatrol.outbox.restore(window.__e2eSaved)).catch(() => {});
    // The app goes back to its sign-in form instead of retrying for ever...
    await page.getByTestId('login-username').waitFor({ timeout: 60_000 });
    const t1 = Date.now();
    // ...and once the same account is signed in again, the kept queue goes out.
    await page.getByTestId('login-username').fill(args.patrol);
    await page.getByTestId('login-password').fill(password);
    await page.getByTestId('login-submit').click();
    // (A fresh outbox starts empty before it has read IndexedDB: wait for what it sent.)
    await page
      .waitForFunction(
        ([t, n]) => {
          const o = window.__wanggePatrol?.outbox;
          return !!o && o.items.length === 0 && o.sent.filter((x) => x.at >= t).length >= n;
        },
        [t1, total],
        { timeout: 90_000, polling: 200 },
      )
      .catch(() => {}); // the checks below say what is missing
    const after = await page.evaluate((t) => window.__wanggePatrol.outbox.sent.filter((x) => x.at >= t).map((x) => [x.kind, x.status, x.replayed]), t1);
    check(after.length === total, `${after.length} uploads sent after signing in again, want ${total}`);
    check(after.every(([, st, replayed]) => st === 200 && replayed), `all of them repeats: ${JSON.stringify(after)}`);
    const third = await stored();
    check(JSON.stringify(third) === JSON.stringify(first), 'the server still holds the same');
  });
  await page.screenshot({ path: join(artifacts, 'patrol-phone.png') });
  await ctx.close();
}

// ---- the grid chief's week view -------------------------------------------------------------

async function chiefTour(browser) {
  // A browser in New York: times must still be shown as clocks in Shanghai show them.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'America/New_York' });
  const page = await ctx.newPage();
  activePage = page;
  watch(page, 'chief');
  await step('chief: sign in', () => signIn(page, args.chief));
  await step('chief: the week view shows the grid patrolled, the track and the incident', async () => {
    await page.locator('header.top button[title="巡查周报"]').click();
    await page.getByTestId('week-view').waitFor();
    const li = page.getByTestId('week-grids').locator(`li[data-grid="${summary.grid}"]`);
    await li.waitFor();
    check((await li.getAttribute('data-status')) === 'patrolled', `grid ${summary.grid} listed as patrolled`);
    const counts = await page.getByTestId('week-counts').innerText();
    check(counts.includes('已巡查'), 'the counts name the statuses');
    await page.waitForFunction(
      () => ['patrol-week', 'patrol-tracks', 'incidents'].every((l) => document.querySelector(`.legend .layer[data-layer="${l}"]`)?.dataset.status === 'ready'),
      null,
      { timeout: 30_000 },
    );
    await li.locator('button').click();
    const facts = page.getByTestId('grid-week-facts');
    await facts.waitFor();
    check((await facts.locator('[data-field=week_status]').getAttribute('data-status')) === 'patrolled', 'the grid panel says patrolled');
    const by = await facts.locator('[data-field=patrolled_by]').innerText();
    check(by.length > 1, `patrolled by ${by}`);
    summary.patrolled_by = by;
    check((await facts.locator('[data-field=households_visited]').innerText()).startsWith(String(summary.households_visited)), 'households visited in the panel');
    // Let the fly-to finish and the map draw.
    await page.waitForFunction(() => !window.__wangge.map.isMoving(), null, { timeout: 10_000 });
    await page.evaluate(() => new Promise((res) => { window.__wangge.map.once('idle', res); window.__wangge.map.triggerRepaint(); }));
    const drawn = await page.evaluate(() => {
      const m = window.__wangge.map;
      const ids = (layers) => [...new Set(m.queryRenderedFeatures({ layers }).map((f) => String(f.properties.code)))];
      const status = Object.fromEntries(m.queryRenderedFeatures({ layers: ['patrol-week-fill'] }).map((f) => [f.properties.code, f.properties.week_status]));
      return { tracks: ids(['patrol-tracks-line']), incidents: ids(['incidents-circle']), status };
    });
    summary.chief_drawn = drawn;
    check(drawn.status[summary.grid] === 'patrolled', `the grid is coloured as patrolled (${JSON.stringify(drawn.status)})`);
    check(drawn.tracks.includes(summary.patrol_id), 'the track is drawn');
    check(drawn.incidents.includes(summary.incident_id), 'the incident is drawn');
    await page.screenshot({ path: join(artifacts, 'chief-week.png') });
    const legend = await page.getByTestId('legend').innerText();
    check(legend.includes('本周巡查状态') && legend.includes('部分巡查'), 'the legend explains the colours');
  });
  await step('chief: the track opens the patrol', async () => {
    const at = await page.evaluate((id) => {
      const { map, app } = window.__wangge;
      const f = app.layers.data('patrol-tracks').features.find((x) => x.properties.id === id);
      const c = f.geometry.coordinates;
      const rect = map.getCanvas().getBoundingClientRect();
      for (const p of c) {
        const q = map.project(p);
        const hit = app.layers.pickAt([q.x, q.y], 3);
        if (hit && hit.layer === 'patrol-tracks' && hit.feature.properties.id === id) {
          const over = document.elementFromPoint(rect.left + q.x, rect.top + q.y);
          if (over === map.getCanvas()) return [rect.left + q.x, rect.top + q.y];
        }
      }
      return null;
    }, summary.patrol_id);
    check(at, 'a clickable pixel of the track');
    await page.mouse.click(at[0], at[1]);
    const facts = page.getByTestId('patrol-facts');
    await facts.waitFor();
    check((await facts.locator('[data-field=points]').innerText()).replace(/\D/g, '') === String(WALK), 'the patrol panel counts the points');
    // The start time in Shanghai's zone, not the browser's (13 or 12 hours apart).
    const times = await page.evaluate(async (id) => {
      const p = await (await fetch(`/api/patrols/${id}`)).json();
      const opts = { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' };
      const d = new Date(p.started_at);
      return {
        zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        shanghai: d.toLocaleString('zh-CN', { ...opts, timeZone: 'Asia/Shanghai' }),
        local: d.toLocaleString('zh-CN', opts),
      };
    }, summary.patrol_id);
    const started = await facts.locator('[data-field=started]').innerText();
    summary.started_shown = { ...times, shown: started };
    check(times.zone === 'America/New_York' && times.local !== times.shanghai, `the browser runs in New York (${JSON.stringify(times)})`);
    check(started === times.shanghai, `the start is shown in Shanghai time: ${started} (Shanghai ${times.shanghai}, browser ${times.local})`);
    await page.screenshot({ path: join(artifacts, 'chief-week-patrol.png') });
  });
  await step('chief: the week view in English', async () => {
    await page.getByTestId('lang').click();
    const legend = page.getByTestId('legend');
    await page.waitForFunction(() => document.querySelector('[data-testid=legend]')?.innerText.includes("This week's patrols"), null, { timeout: 5_000 });
    check((await legend.innerText()).includes('Patrolled'), 'the legend speaks English');
    await page.waitForFunction(() => document.querySelector('[data-testid=patrol-facts]')?.innerText.includes('Patrolled by'), null, { timeout: 10_000 });
    const head = await page.locator('.panel-title').innerText();
    check(head === 'Patrol', `the panel title is English: ${head}`);
    await page.getByTestId('lang').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=legend]')?.innerText.includes('本周巡查状态'), null, { timeout: 5_000 });
  });
  await step('chief: the building panel marks the two households ticked, and no other', async () => {
    await page.getByTestId('search').fill(summary.building);
    await page.getByTestId('search').press('Enter');
    const table = page.locator('[data-testid="panel"][data-panel="building"] [data-testid="building-households"]');
    await table.waitFor();
    const rows = await table.locator('tbody tr').evaluateAll((els) => els.map((e) => ({ door: e.dataset.household, visited: e.dataset.visited, text: e.innerText })));
    const marked = rows.filter((r) => r.visited === 'yes').map((r) => r.door).sort();
    summary.doors_marked = marked;
    check(JSON.stringify(marked) === JSON.stringify([...summary.doors_ticked].sort()), `exactly the ticked households are marked visited (${marked} vs ${summary.doors_ticked})`);
    check(rows.every((r) => r.visited === 'yes' || r.visited === 'no'), 'every household says visited or not');
    const walker = summary.patrolled_by.split(/[、,]\s*/)[0];
    check(rows.filter((r) => r.visited === 'yes').every((r) => r.text.includes('✓') && r.text.includes(walker)), `the marks say by whom (${walker})`);
    await page.screenshot({ path: join(artifacts, 'chief-building-visited.png') });
  });
  await ctx.close();
}

// ---- main -------------------------------------------------------------------------------------

await main(
  args,
  artifacts,
  async (browser) => {
    await patrolTour(browser);
    await chiefTour(browser);
  },
);
