#!/usr/bin/env node
// Browser tests of the wangge web app: Debian's chromium driven by playwright-core against
// a running server with the demo district loaded. tests/browser.rs starts that server on a
// fresh database and runs this script; it can also be run by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/run.mjs http://127.0.0.1:8080 \
//       --chief CHIEF_USER --admin ADMIN_USER --planner PLANNER_USER --patrol PATROL_USER \
//       --viewer VIEWER_USER [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.
// Screenshots go to the artifacts folder. The admin part changes boundaries: use a
// throw-away database.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import { artifactsDir, check, main, parseArgs, signIn as harnessSignIn, step, summary, testPassword, watch } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const args = parseArgs('run.mjs', { chief: null, admin: null, planner: null, patrol: null, viewer: null });
const password = testPassword();
const artifacts = artifactsDir(args);

// ---- screenshots ------------------------------------------------------------------------

async function shot(page, file, opts = {}) {
  const path = join(artifacts, file);
  const buf = await page.screenshot({ path, ...opts });
  return buf;
}

/** Counts distinct colours of a PNG (decoded in a blank page, outside the app's CSP). */
async function distinctColours(browser, png) {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      const g = c.getContext('2d');
      g.drawImage(bmp, 0, 0);
      const d = g.getImageData(0, 0, bmp.width, bmp.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size;
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

// ---- page helpers -----------------------------------------------------------------------

const signIn = (page, user) => harnessSignIn(page, args.base, user, password);

/** GET from inside the page, with its session. */
function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin' });
    return { status: r.status, etag: r.headers.get('etag'), body: await r.json() };
  }, path);
}

/** A pixel (page coordinates) where the topmost clickable feature is `code` of `layer`,
 * scanning the map outside the overlays; null when none. */
async function pixelOf(page, layer, code, around = null) {
  return page.evaluate(
    ({ layer, code, around }) => {
      const { map, app } = window.__wangge;
      const canvas = map.getCanvas();
      const rect = canvas.getBoundingClientRect();
      const covered = [...document.querySelectorAll('.legend, .side-panel, .edit-bar, .maplibregl-ctrl')]
        .filter((e) => e.offsetParent !== null)
        .map((e) => e.getBoundingClientRect());
      const free = (x, y) => !covered.some((r) => x >= r.left - 4 && x <= r.right + 4 && y >= r.top - 4 && y <= r.bottom + 4);
      const is = (cx, cy) => {
        const p = app.layers.pickAt([cx, cy], 0);
        return p && p.layer === layer && String(p.feature.properties.code) === code;
      };
      // A pixel whose neighbours 6 px away are the same feature, so rounding cannot miss.
      const tryAt = (cx, cy) => {
        cx = Math.round(cx);
        cy = Math.round(cy);
        const px = rect.left + cx;
        const py = rect.top + cy;
        if (cx < 12 || cy < 12 || cx > rect.width - 12 || cy > rect.height - 12 || !free(px, py)) return null;
        for (const [dx, dy] of [[0, 0], [6, 0], [-6, 0], [0, 6], [0, -6], [5, 5], [-5, -5], [5, -5], [-5, 5]]) if (!is(cx + dx, cy + dy)) return null;
        return [px, py];
      };
      if (around) {
        const c = map.project(around);
        for (let r = 16; r < 200; r += 8) {
          for (let a = 0; a < 360; a += 20) {
            const hit = tryAt(c.x + r * Math.cos((a * Math.PI) / 180), c.y + r * Math.sin((a * Math.PI) / 180));
            if (hit) return hit;
          }
        }
        return null;
      }
      for (let y = 10; y < rect.height; y += 9) {
        for (let x = 10; x < rect.width; x += 9) {
          const hit = tryAt(x, y);
          if (hit) return hit;
        }
      }
      return null;
    },
    { layer, code, around },
  );
}

/** The codes of rendered features of some style layers. */
function rendered(page, layers) {
  return page.evaluate((ls) => [...new Set(window.__wangge.map.queryRenderedFeatures({ layers: ls }).map((f) => String(f.properties.code)))], layers);
}

function waitIdle(page) {
  return page.evaluate(
    () =>
      new Promise((res) => {
        const m = window.__wangge.map;
        if (m.loaded() && !m.isMoving()) {
          m.once('idle', () => res(true));
          m.triggerRepaint();
        } else m.once('idle', () => res(true));
      }),
  );
}

const digits = (s) => String(s).replace(/\D/g, '');

/** The lowest contrast ratio (WCAG) between the text colour of each element matching
 * `selector` (and of its descendants) and the background drawn behind it, and the element
 * where it is lowest. */
function lowestContrast(page, selector) {
  return page.evaluate((sel) => {
    const rgba = (c) => {
      const v = (c.match(/[\d.]+/g) ?? ['0', '0', '0', '0']).map(Number);
      return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
    };
    // The colour behind an element: its own and its ancestors' backgrounds laid over white.
    const behind = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      let out = [255, 255, 255];
      for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
      return out;
    };
    const lum = ([r, g, b]) => {
      const f = (x) => ((x /= 255) <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (a, b) => {
      const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    let worst = { ratio: Infinity, text: null };
    for (const el of document.querySelectorAll(sel)) {
      for (const e of [el, ...el.querySelectorAll('*')]) {
        if (!e.textContent.trim()) continue;
        const [r, g, b, a] = rgba(getComputedStyle(e).color);
        const bg = behind(e);
        const fg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)];
        const q = ratio(fg, bg);
        if (q < worst.ratio) worst = { ratio: q, text: e.textContent.trim().slice(0, 40), fg, bg };
      }
    }
    return worst;
  }, selector);
}

/** Checks that the header fits a 390 px screen: no horizontal scroll, sign-out, language
 * and the tools menu on screen, and (when one is open) the bottom sheet's ×. */
async function checkHeaderFits(page, who) {
  const r = await page.evaluate(() => {
    const box = (el) => {
      if (!el || el.offsetParent === null) return null;
      const b = el.getBoundingClientRect();
      return [Math.round(b.left), Math.round(b.right), Math.round(b.top), Math.round(b.bottom)];
    };
    const q = (s) => document.querySelector(s);
    return {
      width: window.innerWidth,
      scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
      header: q('header.top').scrollWidth,
      signOut: box(q('[data-testid=sign-out]')),
      lang: box(q('[data-testid=lang]')),
      more: box(q('[data-testid=tools-menu]')),
      close: box(q('[data-testid=panel]:not([hidden]) > header button')),
    };
  });
  const inside = (b) => b && b[0] >= 0 && b[1] <= r.width && b[2] >= 0;
  check(r.width === 390, `${who}: a 390 px screen (${r.width})`);
  check(r.scroll <= 390 && r.header <= 390, `${who}: no horizontal scroll (page ${r.scroll} px, header ${r.header} px)`);
  check(inside(r.signOut), `${who}: sign-out on screen ${JSON.stringify(r.signOut)}`);
  check(inside(r.lang), `${who}: the language button on screen ${JSON.stringify(r.lang)}`);
  check(inside(r.more), `${who}: the tools menu button on screen ${JSON.stringify(r.more)}`);
  if (r.close) check(inside(r.close), `${who}: the bottom sheet's × on screen ${JSON.stringify(r.close)}`);
  return r;
}

/** A plain 256 × 256 PNG of one colour (a stand-in basemap tile). */
function pngTile([r, g, b]) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(256, 0);
  ihdr.writeUInt32BE(256, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + 256 * 3);
  for (let x = 0; x < 256; x++) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: 256 }, () => row));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- the grid chief ---------------------------------------------------------------------

async function chiefTour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, 'chief');
  await step('chief: sign in and wait for the map', page, () => signIn(page, args.chief));

  const me = (await api(page, '/api/auth/me')).body;
  const scopeGrid = me.scope.grids[0];
  await step('chief: the map opens on the scope', page, async () => {
    check(me.role === 'grid_chief', `signed in as a grid chief, got ${me.role}`);
    const inView = await page.evaluate((b) => {
      const m = window.__wangge.map;
      const v = m.getBounds();
      const c = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
      return v.contains(c) && v.getWest() <= b[0] + 1e-3 && v.getEast() >= b[2] - 1e-3;
    }, me.bbox);
    check(inView, `the view contains the scope box ${me.bbox}`);
  });

  const children = (await api(page, `/api/grids/${scopeGrid}`)).body.properties.children;
  await step('chief: grid features are rendered', page, async () => {
    const g2 = await rendered(page, ['grids2-fill']);
    const g1 = await rendered(page, ['grids1-fill']);
    check(g1.includes(scopeGrid), `first-level grid ${scopeGrid} rendered (got ${g1.length} grids)`);
    check(children.every((c) => g2.includes(c)), `every child of ${scopeGrid} rendered: ${children} vs ${g2.length} rendered`);
    const b = await rendered(page, ['buildings-fill']);
    check(b.length > 20, `buildings rendered (${b.length})`);
    const legend = await page.getByTestId('legend').innerText();
    check(legend.includes('二级网格') && legend.includes('服务站点'), 'the legend lists the layers in Chinese');
    // Every layer loaded.
    const states = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.legend .layer')].map((e) => [e.dataset.layer, e.dataset.status])));
    summary.layers = states;
    check(Object.values(states).every((s) => s === 'ready' || s === 'unavailable'), `layer states ${JSON.stringify(states)}`);
    check(['communities', 'grids1', 'grids2', 'buildings', 'stations', 'streets'].every((l) => states[l] === 'ready'), 'the data layers are ready');
  });

  await step('chief: screenshot is not blank', page, async () => {
    const png = await shot(page, 'chief-map.png');
    const colours = await distinctColours(browser, png);
    summary.chief_colours = colours;
    check(colours > 40, `the screenshot has ${colours} distinct colours`);
    const mapPng = await page.getByTestId('map').screenshot();
    const mapColours = await distinctColours(browser, mapPng);
    check(mapColours > 20, `the map canvas has ${mapColours} distinct colours`);
  });

  const code = children[0];
  await step('chief: click a grid and read the panel', page, async () => {
    const at = await pixelOf(page, 'grids2', code);
    check(at, `a clickable pixel of grid ${code}`);
    await page.mouse.click(at[0], at[1]);
    const panel = page.getByTestId('panel');
    await panel.locator('[data-field=code]').filter({ hasText: code }).waitFor({ timeout: 15_000 });
    const detail = (await api(page, `/api/grids/${code}`)).body.properties;
    const text = await panel.innerText();
    check(digits(await panel.locator('[data-field=households]').innerText()) === String(detail.households), 'households match the API');
    check(digits(await panel.locator('[data-field=residents]').innerText()) === String(detail.residents), 'residents match the API');
    check(text.includes(detail.name), 'the panel shows the grid name');
    if (detail.chief) check(text.includes(detail.chief), 'the panel shows the chief');
    if (detail.party_members !== undefined) check(text.includes('党员'), 'party members shown to the chief');
    check((await page.getByTestId('edit-boundary').count()) === 0, 'no boundary editing for a grid chief');
    await page.getByTestId('grid-buildings').locator('button').first().waitFor({ timeout: 15_000 });
    await shot(page, 'chief-grid-panel.png');
  });

  await step('chief: search a building and open it', page, async () => {
    const b = (await api(page, `/api/buildings?bbox=${me.bbox.join(',')}`)).body.features.find((f) => f.properties.grid_code === code);
    check(b, 'a building in the grid');
    await page.getByTestId('search').fill(b.properties.code);
    await page.getByTestId('search-results').locator('button').first().waitFor({ timeout: 10_000 });
    await page.getByTestId('search').press('Enter');
    const facts = page.getByTestId('building-facts');
    await facts.locator('[data-field=code]').filter({ hasText: b.properties.code }).waitFor({ timeout: 10_000 });
    check(digits(await facts.locator('[data-field=households]').innerText()) === String(b.properties.households), 'building households');
    await shot(page, 'chief-building.png');
  });

  await step('chief: a search of two words finds the grid, in legible results', page, async () => {
    const grid = (await api(page, `/api/grids/${scopeGrid}`)).body.properties;
    check(grid.name === '陵江社区第1网格', `the chief's grid is 陵江社区第1网格 (got ${grid.name})`);
    await page.getByTestId('search').fill('陵江 第1网格');
    const first = page.getByTestId('search-results').locator('button').first();
    await first.filter({ hasText: grid.name }).waitFor({ timeout: 10_000 });
    check((await first.innerText()).includes(scopeGrid), `the first hit is ${scopeGrid}: ${await first.innerText()}`);
    const worst = await lowestContrast(page, '[data-testid=search-results] button');
    summary.search_contrast = worst.ratio;
    check(worst.ratio >= 4.5, `search results are legible: contrast ${worst.ratio.toFixed(2)}:1 for "${worst.text}" (${worst.fg} on ${worst.bg})`);
    await shot(page, 'chief-search.png');
    await page.getByTestId('search').press('Enter');
    await page.getByTestId('panel').locator('[data-field=code]').filter({ hasText: scopeGrid }).waitFor({ timeout: 15_000 });
  });

  await step('chief: switch to English and back', page, async () => {
    await page.getByTestId('lang').click();
    await page.getByTestId('legend').locator('.layer-head', { hasText: 'Second-level grids' }).waitFor({ timeout: 5_000 });
    check((await page.getByTestId('panel').innerText()).includes('Households'), 'the open panel is re-rendered in English');
    await page.getByTestId('lang').click();
    await page.getByTestId('legend').locator('.layer-head', { hasText: '二级网格' }).waitFor({ timeout: 5_000 });
  });
  await ctx.close();
}

// ---- the administrator: boundary editing ---------------------------------------------------

/** A vertex shared by exactly two second-level grids of one parent and by no first-level
 * grid (so moving it in both keeps every partition whole). */
function findSharedVertex(page) {
  return page.evaluate(async () => {
    const get = (u) => fetch(u).then((r) => r.json());
    const [g1, g2] = await Promise.all([get('/api/grids?level=1'), get('/api/grids?level=2')]);
    const key = (p) => `${p[0].toFixed(7)},${p[1].toFixed(7)}`;
    const rings = (g) => (g.type === 'Polygon' ? g.coordinates : g.coordinates.flat());
    const onParents = new Set();
    for (const f of g1.features) for (const r of rings(f.geometry)) for (const p of r) onParents.add(key(p));
    const owners = new Map();
    const byCode = new Map(g2.features.map((f) => [f.properties.code, f]));
    for (const f of g2.features) {
      const seen = new Set();
      for (const r of rings(f.geometry)) for (const p of r) seen.add(key(p));
      for (const k of seen) owners.set(k, [...(owners.get(k) ?? []), f.properties.code]);
    }
    const centroid = (f) => {
      const r = rings(f.geometry)[0];
      const n = r.length - 1;
      return [r.slice(0, n).reduce((s, p) => s + p[0], 0) / n, r.slice(0, n).reduce((s, p) => s + p[1], 0) / n];
    };
    const candidates = [...owners]
      .filter(([k, cs]) => cs.length === 2 && !onParents.has(k) && byCode.get(cs[0]).properties.parent_code === byCode.get(cs[1]).properties.parent_code)
      .sort((a, b) => a[0].localeCompare(b[0]));
    const [k, [a, b]] = candidates[Math.floor(candidates.length / 2)];
    const vertex = k.split(',').map(Number);
    return { vertex, a, b, towardB: centroid(byCode.get(b)), versions: { [a]: byCode.get(a).properties.version, [b]: byCode.get(b).properties.version } };
  });
}

/** Whether a geometry has a vertex within `tol` degrees of `p`. */
function hasVertex(geometry, p, tol) {
  const rings = geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
  return rings.some((r) => r.some((q) => Math.abs(q[0] - p[0]) <= tol && Math.abs(q[1] - p[1]) <= tol));
}

/** Drags the map point `from` (lon/lat) by `dx`, `dy` pixels with the mouse. */
async function drag(page, from, dx, dy) {
  const start = await page.evaluate((p) => {
    const { map } = window.__wangge;
    const r = map.getCanvas().getBoundingClientRect();
    const q = map.project(p);
    return [Math.round(r.left + q.x), Math.round(r.top + q.y)];
  }, from);
  const end = [start[0] + Math.round(dx), start[1] + Math.round(dy)];
  await page.mouse.move(start[0], start[1]);
  await page.mouse.down();
  await page.mouse.move(end[0], end[1], { steps: 8 });
  await page.mouse.up();
  const [expected, dropped] = await page.evaluate(
    ([x, y]) => {
      const { map, app } = window.__wangge;
      const r = map.getCanvas().getBoundingClientRect();
      const ll = map.unproject([x - r.left, y - r.top]);
      return [[ll.lng, ll.lat], app.editor.selected];
    },
    end,
  );
  check(dropped, 'the dragged vertex is selected');
  // Within a pixel (about a metre here) of where the mouse let go.
  check(Math.abs(dropped[0] - expected[0]) < 1.5e-5 && Math.abs(dropped[1] - expected[1]) < 1.5e-5, `dropped at ${dropped}, mouse at ${expected}`);
  return dropped;
}

async function openEditor(page, code, near) {
  const at = await pixelOf(page, 'grids2', code, near);
  check(at, `a clickable pixel of grid ${code} near the vertex`);
  await page.mouse.click(at[0], at[1]);
  await page.getByTestId('panel').locator('[data-field=code]').filter({ hasText: code }).waitFor({ timeout: 15_000 });
  await page.getByTestId('edit-boundary').click();
  await page.getByTestId('edit-bar').waitFor({ state: 'visible' });
  await page.waitForFunction(() => window.__wangge.map.queryRenderedFeatures({ layers: ['tool-edit-vertices'] }).length > 0, null, { timeout: 15_000 });
}

/** The second-level grid drawn at a map position (fill layer only). */
function gridAt(page, p) {
  return page.evaluate((p) => {
    const { map } = window.__wangge;
    const q = map.project(p);
    return map.queryRenderedFeatures([q.x, q.y], { layers: ['grids2-fill'] }).map((f) => String(f.properties.code))[0] ?? null;
  }, p);
}

async function adminTour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, 'admin');
  await step('admin: sign in and wait for the map', page, () => signIn(page, args.admin));

  const pick = await findSharedVertex(page);
  const { vertex, a, b } = pick;
  summary.edited = [a, b].sort();
  // 8 px towards the middle of grid b: about 8 m at zoom 17 here.
  const dir = await page.evaluate(
    ({ v, c }) => {
      const { map } = window.__wangge;
      map.jumpTo({ center: v, zoom: 17 });
      const p = map.project(v);
      const q = map.project(c);
      const n = Math.hypot(q.x - p.x, q.y - p.y);
      return [(8 * (q.x - p.x)) / n, (8 * (q.y - p.y)) / n];
    },
    { v: vertex, c: pick.towardB },
  );
  await waitIdle(page);
  // A point half-way along the move: in grid b before, in grid a after.
  const probe = await page.evaluate(
    ({ v, d }) => {
      const { map } = window.__wangge;
      const p = map.project(v);
      const ll = map.unproject([p.x + d[0] / 2, p.y + d[1] / 2]);
      return [ll.lng, ll.lat];
    },
    { v: vertex, d: dir },
  );
  check((await gridAt(page, probe)) === b, `before the edit the probe point is in ${b}`);

  let moved;
  await step('admin: drag a vertex shared by two grids', page, async () => {
    await openEditor(page, a, vertex);
    moved = await drag(page, vertex, dir[0], dir[1]);
    const changed = await page.getByTestId('edit-bar').getAttribute('data-changed');
    check(changed === [a, b].sort().join(','), `both grids follow the shared vertex (changed: ${changed})`);
    await shot(page, 'admin-editing.png');
  });

  await step('admin: save both grids as one batch', page, async () => {
    const batch = page.waitForRequest((r) => r.url().endsWith('/api/grids/batch') && r.method() === 'POST');
    await page.getByTestId('edit-save').click();
    const req = await batch;
    check(req.headers()['x-csrf-token'], 'the batch carries the CSRF header');
    check(JSON.parse(req.postData()).changes.length === 2, 'the batch holds both grids');
    await page.waitForFunction(() => window.__wangge.app.editor.lastSave !== null, null, { timeout: 30_000 });
    const res = await page.evaluate(() => window.__wangge.app.editor.lastSave);
    check(res.ok, `the save succeeded: ${JSON.stringify(res)}`);
    await page.getByTestId('toast').waitFor({ state: 'visible' });
  });

  await step('admin: the change is in the API', page, async () => {
    for (const code of [a, b]) {
      const r = await api(page, `/api/grids/${code}`);
      check(r.body.properties.version === pick.versions[code] + 1, `${code} is at version ${pick.versions[code] + 1} (got ${r.body.properties.version})`);
      check(r.etag === `"${pick.versions[code] + 1}"`, `${code}'s ETag is the new version`);
      check(hasVertex(r.body.geometry, moved, 2e-7), `${code} has the moved vertex ${moved}`);
      check(!hasVertex(r.body.geometry, vertex, 1e-8), `${code} no longer has the old vertex`);
    }
  });

  await step('admin: the change is on the map', page, async () => {
    await waitIdle(page);
    // The grid layer is drawn from the server's vector tiles: the tiles now in use carry
    // the new version of both grids (no stale tile).
    const versions = await page.evaluate(
      ({ a, b }) => {
        const fs = window.__wangge.map.querySourceFeatures('src-grids2', { sourceLayer: 'grids2' });
        const v = (c) => Math.max(-1, ...fs.filter((f) => f.properties.code === c).map((f) => Number(f.properties.version)));
        return [v(a), v(b)];
      },
      { a, b },
    );
    check(versions[0] === pick.versions[a] + 1 && versions[1] === pick.versions[b] + 1, `the tiles in use hold the new versions (got ${versions})`);
    check((await gridAt(page, probe)) === a, `the probe point is drawn in ${a} now`);
    await shot(page, 'admin-saved.png');
  });

  await step('admin: a rejected edit is explained', page, async () => {
    await openEditor(page, a, moved);
    await page.getByTestId('edit-linked').uncheck();
    await drag(page, moved, dir[0], dir[1]);
    check((await page.getByTestId('edit-bar').getAttribute('data-changed')) === a, 'unlinked: only one grid changes');
    const put = page.waitForRequest((r) => r.url().endsWith(`/api/grids/${a}`) && r.method() === 'PUT');
    await page.getByTestId('edit-save').click();
    const req = await put;
    check(req.headers()['if-match'] === `"${pick.versions[a] + 1}"`, `a single-grid save sends If-Match (got ${req.headers()['if-match']})`);
    await page.waitForFunction(() => window.__wangge.app.editor.lastSave?.status === 422, null, { timeout: 30_000 });
    const faults = page.getByTestId('edit-faults').locator('li');
    await faults.first().waitFor();
    const text = await page.getByTestId('edit-msg').innerText();
    check(/缝隙|重叠/.test(text), `the message names the gap or overlap: ${text}`);
    await waitIdle(page);
    const drawn = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['tool-edit-faults-fill'] }).length);
    check(drawn > 0, 'the fault shapes are drawn on the map');
    // Each ring sits on its fault (the server's point on the fault), not at its box's centre.
    const onFault = await page.evaluate(() => {
      const m = window.__wangge.map;
      const marks = m.queryRenderedFeatures({ layers: ['tool-edit-faults-mark'] });
      return marks.length > 0 && marks.every((f) => {
        const p = m.project(f.geometry.coordinates);
        return m.queryRenderedFeatures([[p.x - 2, p.y - 2], [p.x + 2, p.y + 2]], { layers: ['tool-edit-faults-fill'] }).length > 0;
      });
    });
    check(onFault, 'each fault ring is drawn on its fault');
    check(await page.getByTestId('edit-shared-hint').isVisible(), 'moving one side only: the editor suggests moving shared vertices together');
    const r = await api(page, `/api/grids/${a}`);
    check(r.body.properties.version === pick.versions[a] + 1, 'the rejected edit changed nothing');
    await shot(page, 'admin-rejected.png');
  });

  await step('admin: the editor switches to English', page, async () => {
    const bar = page.getByTestId('edit-bar');
    await page.getByTestId('lang').click();
    await bar.getByTestId('edit-undo').filter({ hasText: 'Undo' }).waitFor({ timeout: 5_000 });
    const text = await bar.innerText();
    for (const words of ['Editing a boundary', 'Drag a vertex', 'Move shared vertices together', 'Delete vertex', 'Cancel', 'Save', 'The server rejected the change']) {
      check(text.includes(words), `the edit bar says "${words}" in English: ${text}`);
    }
    check(/\b(gap|overlap)\b/.test(await page.getByTestId('edit-faults').innerText()), 'the faults are named in English');
    // The title ends with the grid's name, which is data (never translated).
    const rest = text.replace(await bar.locator('.edit-head').innerText(), '');
    check(!/[\u4e00-\u9fff]/.test(rest), `no Chinese left in the bar but the grid's name: ${rest}`);
    await shot(page, 'admin-rejected-en.png');
    await page.getByTestId('lang').click();
    await bar.getByTestId('edit-undo').filter({ hasText: '撤销' }).waitFor({ timeout: 5_000 });
    check((await page.getByTestId('edit-msg').innerText()).includes('服务器拒绝'), 'and back to Chinese');
  });

  await step('admin: cancelling removes the faults', page, async () => {
    await page.getByTestId('edit-cancel').click();
    await page.getByTestId('edit-bar').waitFor({ state: 'hidden' });
    const left = await page.evaluate(() => !!window.__wangge.map.getLayer('tool-edit-faults-fill'));
    check(!left, 'cancelling removes the fault shapes');
  });
  await ctx.close();
}

// ---- a phone --------------------------------------------------------------------------------

async function phoneTour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, 'phone');
  // The streets come from the server's vector tiles; the test database marks them as
  // drawn from OpenStreetMap, so their TileJSON carries the OSM credit the map must show.
  // A raster basemap from the settings file (config.json), with tiles from a stand-in.
  const tile = pngTile([200, 230, 201]);
  await page.route('**/config.json', (route) =>
    route.fulfill({ contentType: 'application/json', body: JSON.stringify({ basemap: { type: 'raster', tiles: [`${args.base}/e2e-basemap/{z}/{x}/{y}.png`], attribution: 'E2E basemap' } }) }),
  );
  let basemapTiles = 0;
  await page.route('**/e2e-basemap/**', (route) => {
    basemapTiles++;
    return route.fulfill({ contentType: 'image/png', body: tile });
  });
  await step('phone: sign in and wait for the map', page, () => signIn(page, args.chief));
  await step('phone: OSM streets and a configured basemap are drawn with their attribution', page, async () => {
    const drawn = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['streets-line'] }).length);
    check(drawn > 10, `streets drawn (${drawn})`);
    const attribution = await page.locator('.maplibregl-ctrl-attrib').innerText();
    check(attribution.includes('OpenStreetMap'), `OSM attribution shown: ${attribution}`);
    check(basemapTiles > 0 && (await page.evaluate(() => !!window.__wangge.map.getLayer('basemap'))), `the configured basemap is drawn (${basemapTiles} tiles)`);
    check(attribution.includes('E2E basemap'), 'the basemap attribution is shown');
  });
  await step('phone: tap a grid, the panel is a bottom sheet', page, async () => {
    check(!(await page.getByTestId('legend').isVisible()), 'the layer list is folded away');
    const me = (await api(page, '/api/auth/me')).body;
    const code = (await api(page, `/api/grids/${me.scope.grids[0]}`)).body.properties.children.at(-1);
    const at = await pixelOf(page, 'grids2', code);
    check(at, `a tappable pixel of ${code}`);
    await page.touchscreen.tap(at[0], at[1]);
    const panel = page.getByTestId('panel');
    await panel.locator('[data-field=code]').filter({ hasText: code }).waitFor({ timeout: 15_000 });
    const box = await panel.boundingBox();
    check(box.width >= 380 && box.y > 844 * 0.4 && box.y + box.height <= 845, `bottom sheet (${JSON.stringify(box)})`);
    await shot(page, 'phone-panel.png');
    await checkHeaderFits(page, 'chief (zh)');
    await page.getByTestId('lang').click();
    await page.getByTestId('sign-out').filter({ hasText: 'Sign out' }).waitFor({ timeout: 5_000 });
    await checkHeaderFits(page, 'chief (en)');
    await page.getByTestId('lang').click();
    await page.getByTestId('sign-out').filter({ hasText: '退出' }).waitFor({ timeout: 5_000 });
    await page.getByRole('button', { name: '图层' }).click();
    await page.getByTestId('legend').waitFor({ state: 'visible' });
    await shot(page, 'phone-layers.png');
  });
  await ctx.close();
}

/** Every role on a 390 px phone, in both languages: the header fits, and the tools folded
 * behind ⋯ open on screen. */
async function phoneHeaders(browser) {
  for (const [role, user] of [['admin', args.admin], ['planner', args.planner], ['patrol', args.patrol], ['viewer', args.viewer]]) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1, locale: 'zh-CN' });
    const page = await ctx.newPage();
    watch(page, `phone ${role}`);
    await step(`phone ${role}: the header fits 390 px`, page, async () => {
      await signIn(page, user);
      await checkHeaderFits(page, `${role} (zh)`);
      await page.getByTestId('tools-menu').tap();
      const tools = page.getByTestId('tools').locator('button');
      await tools.first().waitFor({ state: 'visible' });
      for (const b of await tools.all()) {
        const box = await b.boundingBox();
        check(box && box.x >= 0 && box.x + box.width <= 390, `${role}: tool "${await b.innerText()}" on screen (${JSON.stringify(box)})`);
      }
      check((await checkHeaderFits(page, `${role} (menu open)`)).scroll <= 390, `${role}: the open menu does not scroll`);
      await shot(page, `phone-${role}-tools.png`);
      await page.getByTestId('tools-menu').tap();
      await tools.first().waitFor({ state: 'hidden' });
      await page.getByTestId('lang').tap();
      await page.getByTestId('sign-out').filter({ hasText: 'Sign out' }).waitFor({ timeout: 5_000 });
      await checkHeaderFits(page, `${role} (en)`);
    });
    await ctx.close();
  }
}

// ---- main -----------------------------------------------------------------------------------

await main(
  args,
  artifacts,
  async (browser) => {
    await chiefTour(browser);
    await adminTour(browser);
    await phoneTour(browser);
    await phoneHeaders(browser);
  },
);
