#!/usr/bin/env node
// Browser test of the party view (issue 7, "Map"): Debian's chromium driven by playwright-core
// against a running server with the demo district loaded. tests/browser_party.rs starts that
// server on a fresh database and runs this script; by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/party.mjs http://127.0.0.1:8080 --admin ADMIN_USER \
//       --viewer VIEWER_USER [--year 2024] [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// An administrator switches the party view on, checks that the cells are drawn and coloured
// by size and by rule status, that the findings are drawn as markers and that one explains
// itself on click; then moves a boundary shared by two second-level grids of two branches so
// that buildings with party members change grid, sees the preview (members moving, rules
// changing) drawn before anything is saved, cancels the edit once, goes back to editing once,
// confirms, and checks through the API that the members' cells followed. A viewer (who may
// not see party data) gets neither the view nor the data. It exits non-zero on the first
// failed check and prints one JSON line (the summary) last. It changes boundaries: use a
// throw-away database.

import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, signIn as harnessSignIn, step, summary, testPassword, watch } from './harness.mjs';

const args = parseArgs('party.mjs', { admin: null, viewer: null, year: '2024' });
const password = testPassword();
const artifacts = artifactsDir(args);

const shot = (page, file) => page.screenshot({ path: join(artifacts, file) });
const signIn = (page, user) => harnessSignIn(page, args.base, user, password);

/** A request from inside the page, with its session (and CSRF header when not a GET). */
function api(page, path, method = 'GET', body = undefined) {
  return page.evaluate(
    async ({ path, method, body }) => {
      const headers = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (method !== 'GET') headers['x-csrf-token'] = decodeURIComponent(document.cookie.match(/(?:^|;\s*)wangge_csrf=([^;]+)/)?.[1] ?? '');
      const r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    { path, method, body },
  );
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

/** Features of some style layers drawn now: properties and evaluated paint. */
function rendered(page, layers) {
  return page.evaluate(
    (ls) =>
      window.__wangge.map.queryRenderedFeatures({ layers: ls }).map((f) => ({
        layer: f.layer.id,
        props: f.properties,
        paint: f.layer.paint,
        coordinates: f.geometry.type === 'Point' ? f.geometry.coordinates : null,
      })),
    layers,
  );
}

/** A page pixel where the topmost clickable feature belongs to `layer` and satisfies
 * `match` (a property name and value), searched in rings around `around` (lon/lat), clear
 * of the overlays; null when none. */
async function pixelOf(page, layer, key, value, around) {
  return page.evaluate(
    ({ layer, key, value, around }) => {
      const { map, app } = window.__wangge;
      const rect = map.getCanvas().getBoundingClientRect();
      const covered = [...document.querySelectorAll('.legend, .side-panel, .edit-bar, .maplibregl-ctrl, .toast')]
        .filter((e) => e.offsetParent !== null)
        .map((e) => e.getBoundingClientRect());
      const free = (x, y) => !covered.some((r) => x >= r.left - 4 && x <= r.right + 4 && y >= r.top - 4 && y <= r.bottom + 4);
      const is = (cx, cy) => {
        const p = app.layers.pickAt([cx, cy], 0);
        return p && p.layer === layer && String(p.feature.properties[key]) === value;
      };
      const tryAt = (cx, cy, slack) => {
        cx = Math.round(cx);
        cy = Math.round(cy);
        const px = rect.left + cx;
        const py = rect.top + cy;
        if (cx < 12 || cy < 12 || cx > rect.width - 12 || cy > rect.height - 12 || !free(px, py)) return null;
        for (const [dx, dy] of [[0, 0], [slack, 0], [-slack, 0], [0, slack], [0, -slack]]) if (!is(cx + dx, cy + dy)) return null;
        return [px, py];
      };
      const c = map.project(around);
      // A marker: its centre first; an area: away from its edges.
      const first = tryAt(c.x, c.y, 2);
      if (first) return first;
      for (let r = 3; r < 220; r += 4) {
        for (let a = 0; a < 360; a += 15) {
          const hit = tryAt(c.x + r * Math.cos((a * Math.PI) / 180), c.y + r * Math.sin((a * Math.PI) / 180), 5);
          if (hit) return hit;
        }
      }
      return null;
    },
    { layer, key, value, around },
  );
}

const digits = (s) => String(s).replace(/\D/g, '');
const rgb = (c) => (c && typeof c === 'object' ? [c.r, c.g, c.b].map((v) => Math.round(v * 255)).join(',') : String(c));
/** The cells layer's colours of the member-count classes, lightest (fewest) first. */
const SIZE_COLOURS = ['#fff5f0', '#fcbba1', '#fb6a4a', '#cb181d', '#67000d'];
const hexRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(',');

// ---- the boundary change ------------------------------------------------------------------

/** Whether a geometry has a vertex within `tol` degrees of `p`. */
function hasVertex(geometry, p, tol) {
  const rings = geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
  return rings.some((r) => r.some((q) => Math.abs(q[0] - p[0]) <= tol && Math.abs(q[1] - p[1]) <= tol));
}

/** A vertex shared by exactly two second-level grids, and moving it `d` metres into one of
 * them, that makes buildings with party members change grid; previewed through the API.
 * Grids of two branches are preferred (their rule numbers change too): the vertex is then
 * shared by exactly two first-level grids and lies on no community boundary. */
function findEdit(page) {
  return page.evaluate(async () => {
    const get = (u) => fetch(u).then((r) => r.json());
    const csrf = decodeURIComponent(document.cookie.match(/(?:^|;\s*)wangge_csrf=([^;]+)/)?.[1] ?? '');
    const preview = (body) =>
      fetch('/api/party/preview', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) }).then((r) => r.json());
    const [g1, g2, cm] = await Promise.all([get('/api/grids?level=1'), get('/api/grids?level=2'), get('/api/communities')]);
    const key = (p) => `${p[0].toFixed(7)},${p[1].toFixed(7)}`;
    const rings = (g) => (g.type === 'Polygon' ? g.coordinates : g.coordinates.flat());
    const owners = (fc) => {
      const o = new Map();
      for (const f of fc.features) {
        const seen = new Set();
        for (const r of rings(f.geometry)) for (const p of r) seen.add(key(p));
        for (const k of seen) o.set(k, [...(o.get(k) ?? []), f.properties.code]);
      }
      return o;
    };
    const o1 = owners(g1);
    const o2 = owners(g2);
    const oc = owners(cm);
    const byCode = new Map([...g1.features, ...g2.features].map((f) => [f.properties.code, f]));
    const centroid = (f) => {
      const r = rings(f.geometry)[0];
      const n = r.length - 1;
      return [r.slice(0, n).reduce((s, p) => s + p[0], 0) / n, r.slice(0, n).reduce((s, p) => s + p[1], 0) / n];
    };
    const parent = (c) => byCode.get(c).properties.parent_code;
    const all = [...o2].filter(([k, cs]) => cs.length === 2 && !oc.has(k));
    const cross = all.filter(([k, [a, b]]) => parent(a) !== parent(b) && (o1.get(k) ?? []).length === 2).sort((x, y) => x[0].localeCompare(y[0]));
    const same = all.filter(([k, [a, b]]) => parent(a) === parent(b) && !o1.has(k)).sort((x, y) => x[0].localeCompare(y[0]));
    const moved = (g, from, to) => {
      const c = JSON.parse(JSON.stringify(g));
      for (const r of rings(c)) for (const p of r) if (key(p) === from) [p[0], p[1]] = to;
      return c;
    };
    const batch = (codes, k, to) => ({
      changes: codes.map((code) => ({
        op: 'update',
        code,
        version: byCode.get(code).properties.version,
        feature: { type: 'Feature', geometry: moved(byCode.get(code).geometry, k, to), properties: {} },
      })),
    });
    let tried = 0;
    for (const [kind, list] of [['cross', cross], ['same', same]]) {
      for (const [k, pair] of list) {
        const v = k.split(',').map(Number);
        const codes = [...pair, ...(o1.get(k) ?? [])];
        for (const [into, other] of [[pair[1], pair[0]], [pair[0], pair[1]]]) {
          // Move the vertex towards the middle of `into`: `other` grows into it.
          const c = centroid(byCode.get(into));
          const mx = (c[0] - v[0]) * 111320 * Math.cos((v[1] * Math.PI) / 180);
          const my = (c[1] - v[1]) * 110540;
          const n = Math.hypot(mx, my);
          for (const d of [40, 50]) {
            if (d > n * 0.6) continue;
            const at = (m) => [v[0] + ((c[0] - v[0]) * m) / n, v[1] + ((c[1] - v[1]) * m) / n];
            const to = at(d);
            const p = await preview(batch(codes, k, to));
            tried++;
            if (!p.commit?.ok || p.members.moved <= 0 || (kind === 'cross' && !p.rules.length)) continue;
            // The same buildings move a metre and a half either side (a drag lands within a pixel).
            const set = (q) => q.buildings.moves.map((m) => m.code).sort().join();
            const [lo, hi] = await Promise.all([preview(batch(codes, k, at(d - 1.5))), preview(batch(codes, k, at(d + 1.5)))]);
            tried += 2;
            if (set(lo) !== set(p) || set(hi) !== set(p)) continue;
            return { kind, vertex: v, to, grow: other, into, codes: codes.sort(), preview: p, tried, versions: Object.fromEntries(codes.map((c) => [c, byCode.get(c).properties.version])) };
          }
        }
      }
    }
    return { tried };
  });
}

// ---- the tour -------------------------------------------------------------------------------

async function tour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, 'admin');
  await step('sign in as an administrator', page, () => signIn(page, args.admin));

  const me = (await api(page, '/api/auth/me')).body;
  check(me.permissions.party?.includes('read'), 'the administrator may read party data');

  await step('switch the party view on (year from the tool panel)', page, async () => {
    check((await page.evaluate(() => window.__wangge.map.getLayoutProperty('party-fill', 'visibility'))) === 'none', 'the party cells are off at start');
    await page.getByTestId('tool-party').click();
    await page.getByTestId('party-view').waitFor();
    await page.getByTestId('party-toggle').check();
    await page.getByTestId('party-year').selectOption(args.year);
    await page.waitForFunction((y) => window.__wangge.app.layers.data('party_findings')?.year === Number(y), args.year, { timeout: 30_000 });
    await page.getByTestId('party-rules').waitFor();
    // The report's counts are the server's.
    const report = (await api(page, `/api/party/report?year=${args.year}`)).body;
    for (const r of report.by_rule.filter((x) => x.count > 0)) {
      const n = await page.getByTestId('party-rules').locator(`li[data-rule="${r.rule}"] [data-count]`).getAttribute('data-count');
      check(Number(n) === r.count, `the panel counts ${r.count} findings of ${r.rule} (shows ${n})`);
    }
    summary.findings_by_rule = Object.fromEntries(report.by_rule.filter((x) => x.count > 0).map((x) => [x.rule, x.count]));
    await page.getByTestId('panel').locator('button[aria-label]').first().click();
    await waitIdle(page);
    await shot(page, 'party-view.png');
  });

  const cells = (await api(page, '/api/party/cells?level=2')).body.features;
  const cellBy = new Map(cells.map((f) => [f.properties.code, f.properties]));
  await step('cells are drawn and coloured by size', page, async () => {
    const drawn = await rendered(page, ['party-fill']);
    const codes = new Set(drawn.map((f) => f.props.code));
    check(codes.size >= Math.min(10, cells.length), `party cells drawn (${codes.size} of ${cells.length})`);
    check(drawn.every((f) => f.props.level === 2), 'party groups (second level) by default');
    // Each cell has the colour of its member count's class (the layer's breaks for party
    // groups); several classes show.
    const breaks = [20, 40, 60, 80];
    const bucket = (m) => breaks.filter((b) => m >= b).length;
    const seen = new Set();
    for (const f of drawn) {
      const api = cellBy.get(f.props.code);
      check(api && f.props.members === api.members && f.props.full_members === api.full_members, `${f.props.code}: members as the API says (${f.props.members} vs ${api?.members})`);
      const want = hexRgb(SIZE_COLOURS[bucket(api.members)]);
      check(rgb(f.paint['fill-color']) === want, `${f.props.code} (${api.members} members) coloured ${rgb(f.paint['fill-color'])}, expected ${want}`);
      seen.add(bucket(api.members));
    }
    check(seen.size >= 2, `several size classes drawn (${[...seen]})`);
    summary.cells_drawn = codes.size;
    const legend = await page.getByTestId('legend').locator('section[data-layer="party"]').innerText();
    check(legend.includes('党组织网格') && /名/.test(legend), `the legend shows the size classes: ${legend}`);
  });

  await step('cells coloured by rule status', page, async () => {
    await page.locator('select[data-option="party.metric"]').selectOption('status');
    await waitIdle(page);
    const drawn = await rendered(page, ['party-fill']);
    const ok = hexRgb('#2e7d32');
    const failing = hexRgb('#d32f2f');
    let seen = { ok: 0, failing: 0 };
    for (const f of drawn) {
      const status = cellBy.get(f.props.code)?.status;
      check(f.props.status === status, `${f.props.code}: status ${f.props.status} as the API says (${status})`);
      check(rgb(f.paint['fill-color']) === (status === 'ok' ? ok : failing), `${f.props.code} (${status}) coloured ${rgb(f.paint['fill-color'])}`);
      seen[status]++;
    }
    check(seen.ok > 0 && seen.failing > 0, `both statuses drawn (${JSON.stringify(seen)})`);
    const legend = await page.getByTestId('legend').locator('section[data-layer="party"]').innerText();
    check(legend.includes('符合规则') && legend.includes('有不符合的规则'), 'the legend shows the statuses');
    await shot(page, 'party-status.png');
    // Branches (first level) on request.
    await page.locator('select[data-option="party.level"]').selectOption('1');
    await waitIdle(page);
    const branches = await rendered(page, ['party-fill']);
    check(branches.length > 0 && branches.every((f) => f.props.level === 1), 'branches drawn when asked');
    const labelZoom = () => page.evaluate(() => window.__wangge.map.getLayer('party-label').minzoom);
    const z1 = await labelZoom();
    await page.locator('select[data-option="party.level"]').selectOption('2');
    const z2 = await labelZoom();
    check(z1 < z2, `branch labels show from a lower zoom than group labels (${z1} < ${z2}) without a reload`);
    await page.locator('select[data-option="party.metric"]').selectOption('members');
    await waitIdle(page);
  });

  const findings = (await api(page, `/api/party/findings?format=geojson&year=${args.year}`)).body.features;
  await step('findings are drawn as markers, one per finding of the API', page, async () => {
    const listed = (await api(page, `/api/party/findings?year=${args.year}`)).body;
    check(findings.length === listed.count, `the map's download has every finding (${findings.length} of ${listed.count})`);
    const placed = findings.filter((f) => f.geometry);
    const messages = new Set(placed.map((f) => f.properties.message));
    check(messages.size === placed.length, 'each finding has its own sentence (the markers\' key)');
    // The whole set in view: every marker is drawn, and nothing else.
    const xs = placed.map((f) => f.geometry.coordinates[0]);
    const ys = placed.map((f) => f.geometry.coordinates[1]);
    await page.evaluate((b) => window.__wangge.map.fitBounds(b, { padding: 60, animate: false }), [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]);
    await waitIdle(page);
    const drawn = await rendered(page, ['party_findings-circle']);
    const drawnMessages = new Set(drawn.map((f) => f.props.message));
    check([...drawnMessages].every((m) => messages.has(m)), 'every marker is a finding of the API');
    check(drawnMessages.size === placed.length, `one marker per finding: ${drawnMessages.size} drawn, ${placed.length} findings`);
    const rules = new Set(drawn.map((f) => f.props.rule));
    check(rules.size >= 3, `markers of several rules (${[...rules]})`);
    summary.markers_drawn = drawnMessages.size;
  });

  await step('click a finding and read its explanation', page, async () => {
    // A finding about a cell (a branch that is too large), then any other with numbers.
    const pref = ['branch_too_large', 'compound_without_org', 'chief_not_qualified'];
    const candidates = findings.filter((f) => f.geometry && pref.includes(f.properties.rule)).sort((a, b) => pref.indexOf(a.properties.rule) - pref.indexOf(b.properties.rule));
    let chosen = null;
    let at = null;
    for (const f of candidates.slice(0, 12)) {
      await page.evaluate((c) => window.__wangge.map.jumpTo({ center: c, zoom: 16 }), f.geometry.coordinates);
      await waitIdle(page);
      at = await pixelOf(page, 'party_findings', 'message', f.properties.message, f.geometry.coordinates);
      if (at) {
        chosen = f;
        break;
      }
    }
    check(chosen, 'a clickable finding marker');
    await page.mouse.click(at[0], at[1]);
    const panel = page.getByTestId('panel');
    await panel.getByTestId('finding-message').filter({ hasText: chosen.properties.message }).waitFor({ timeout: 15_000 });
    const title = await panel.locator('.panel-title').innerText();
    check(title.length > 3, `the panel names the rule: ${title}`);
    check((await panel.locator('[data-field=rule]').getAttribute('data-rule')) === chosen.properties.rule, 'the panel says which rule');
    const text = await panel.innerText();
    check(text.includes(chosen.properties.subject.name), 'the panel says where (the subject)');
    for (const [k, v] of Object.entries(chosen.properties.numbers)) {
      const shown = await panel.locator(`[data-number="${k}"]`).innerText();
      if (typeof v === 'number' && Number.isInteger(v)) check(digits(shown) === String(v), `number ${k}: ${shown} vs ${v}`);
    }
    summary.finding = { rule: chosen.properties.rule, message: chosen.properties.message, numbers: chosen.properties.numbers };
    await shot(page, 'party-finding.png');
    // From the finding to its cell.
    if (chosen.properties.grid_code && (await panel.getByTestId('open-cell').count())) {
      await panel.getByTestId('open-cell').click();
      await panel.getByTestId('cell-facts').waitFor();
      check((await panel.innerText()).includes(chosen.properties.grid_code), 'the cell panel of the finding');
    }
  });

  await step('read a cell panel', page, async () => {
    const c = cells.find((f) => f.properties.status === 'failing') ?? cells[0];
    const center = await page.evaluate((code) => {
      const f = window.__wangge.app.layers.data('party').features.find((x) => x.properties.code === code);
      const r = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
      return [r.reduce((s, p) => s + p[0], 0) / r.length, r.reduce((s, p) => s + p[1], 0) / r.length];
    }, c.properties.code);
    await page.evaluate((p) => window.__wangge.map.jumpTo({ center: p, zoom: 16 }), center);
    await waitIdle(page);
    const at = await pixelOf(page, 'party', 'code', c.properties.code, center);
    check(at, `a clickable pixel of cell ${c.properties.code}`);
    await page.mouse.click(at[0], at[1]);
    const panel = page.getByTestId('panel');
    await panel.getByTestId('cell-facts').waitFor();
    await panel.getByTestId('cell-officers').waitFor();
    check(digits(await panel.locator('[data-field=members]').innerText()) === String(c.properties.members), 'the cell panel counts the members');
    check(digits(await panel.locator('[data-field=full_members]').innerText()) === String(c.properties.full_members), 'the cell panel counts the full members');
    const text = await panel.innerText();
    check(text.includes(c.properties.org_name), 'the cell panel names the party group');
    // An administrator sees names: the group leader and the member list.
    const org = (await api(page, `/api/party/orgs/${c.properties.org_code}`)).body;
    for (const o of org.officers ?? []) check(text.includes(o.name), `officer ${o.name} listed`);
    check((await panel.getByTestId('cell-members').locator('li').count()) === org.member_list.length, 'every member listed by name');
    if (c.properties.status === 'failing') check((await panel.getByTestId('cell-findings').locator('li').count()) > 0, 'the cell lists its findings');
    await shot(page, 'party-cell.png');
  });

  // ---- the boundary change ----
  const edit = await step('find a boundary change that moves party members (through the API)', page, async () => {
    const e = await findEdit(page);
    check(e.preview, `a shared vertex whose move makes members change cell (${e.tried} previews tried)`);
    summary.edit = { kind: e.kind, vertex: e.vertex, to: e.to, codes: e.codes, previews_tried: e.tried, members_moved: e.preview.members.moved, buildings_moved: e.preview.buildings.moved, rules_changed: e.preview.rules.length };
    return e;
  });
  summary.edited = edit.versions;

  const requests = [];
  page.on('request', (r) => {
    if (r.method() !== 'GET' && r.url().includes('/api/')) requests.push({ method: r.method(), url: new URL(r.url()).pathname, body: r.postData() });
  });

  /** Drags the vertex to the chosen spot with the mouse. */
  async function dragVertex() {
    const [start, end] = await page.evaluate(
      ({ v, to }) => {
        const { map } = window.__wangge;
        const r = map.getCanvas().getBoundingClientRect();
        const a = map.project(v);
        const b = map.project(to);
        return [
          [r.left + a.x, r.top + a.y],
          [r.left + b.x, r.top + b.y],
        ];
      },
      { v: edit.vertex, to: edit.to },
    );
    await page.mouse.move(Math.round(start[0]), Math.round(start[1]));
    await page.mouse.down();
    await page.mouse.move(Math.round(end[0]), Math.round(end[1]), { steps: 10 });
    await page.mouse.up();
    const changed = await page.getByTestId('edit-bar').getAttribute('data-changed');
    check(changed === edit.codes.join(','), `the shared vertex moved in every grid that has it (changed: ${changed}, expected ${edit.codes})`);
  }

  /** Opens the editor from the growing grid's cell panel and drags the shared vertex. */
  async function openAndDrag() {
    await page.evaluate(({ vertex: v, to }) => window.__wangge.map.jumpTo({ center: [(v[0] + to[0]) / 2, (v[1] + to[1]) / 2], zoom: 17 }), edit);
    await waitIdle(page);
    const at = await pixelOf(page, 'party', 'code', edit.grow, edit.vertex);
    check(at, `a clickable pixel of cell ${edit.grow} near the vertex`);
    await page.mouse.click(at[0], at[1]);
    await page.getByTestId('panel').getByTestId('cell-facts').waitFor();
    await page.getByTestId('panel').getByTestId('edit-boundary').click();
    await page.getByTestId('edit-bar').waitFor({ state: 'visible' });
    await page.waitForFunction(() => window.__wangge.map.queryRenderedFeatures({ layers: ['tool-edit-vertices'] }).length > 0, null, { timeout: 15_000 });
    await dragVertex();
  }

  /** The grids as the API has them now: each still at its old version with the old vertex,
   * and the cells of the preview with their old member counts. */
  async function untouched(preview) {
    for (const code of edit.codes) {
      const g = (await api(page, `/api/grids/${code}`)).body;
      check(g.properties.version === edit.versions[code], `${code} is still at version ${edit.versions[code]} (got ${g.properties.version})`);
      check(hasVertex(g.geometry, edit.vertex, 2e-7), `${code} still has the old vertex`);
    }
    const cells = new Map((await api(page, '/api/party/cells')).body.features.map((f) => [f.properties.code, f.properties.members]));
    for (const c of preview.cells) if (c.members[0] !== null) check(cells.get(c.code) === c.members[0], `${c.code} still has ${c.members[0]} members (has ${cells.get(c.code)})`);
    check(!requests.some((r) => r.url === '/api/grids/batch' || r.url.startsWith('/api/grids/')), `no grid was written (${JSON.stringify(requests.map((r) => r.url))})`);
  }

  await step('open the editor from the cell and drag the shared vertex', page, openAndDrag);

  let preview;
  await step('save: the preview is drawn before anything is written', page, async () => {
    const asked = page.waitForResponse((r) => r.url().endsWith('/api/party/preview') && r.request().method() === 'POST');
    await page.getByTestId('edit-save').click();
    const res = await asked;
    preview = await res.json();
    const sent = JSON.parse(res.request().postData());
    check(sent.changes.length === edit.codes.length && sent.changes.every((c) => c.op === 'update' && c.version === edit.versions[c.code]), 'the preview gets the batch the save would send');
    const box = page.getByTestId('preview');
    await box.waitFor();
    check(Number(await box.getAttribute('data-members-moved')) > 0, `members moving: ${await box.getAttribute('data-members-moved')}`);
    check(Number(await box.getAttribute('data-members-moved')) === preview.members.moved, 'the summary says how many');
    check(Number(await box.getAttribute('data-buildings-moved')) === preview.buildings.moved, 'and how many buildings');
    check(preview.commit.ok && (await box.getAttribute('data-commit')) === 'ok', 'the commit would be accepted');
    await untouched(preview);
    // Members moving from cell to cell, listed with their names (an administrator sees them).
    const flows = page.getByTestId('preview-flows').locator('li[data-from]');
    check((await flows.count()) === preview.members.flows.filter((f) => f.buildings > 0).length, 'one line per flow');
    const first = preview.members.flows.find((f) => f.members > 0);
    check(first && (await page.getByTestId('preview-flows').innerText()).includes(first.to.group), 'the flow names its cells');
    // Cell sizes before and after.
    for (const c of preview.cells) {
      const tr = page.getByTestId('preview-cells').locator(`tr[data-code="${c.code}"]`);
      check((await tr.getAttribute('data-after')) === String(c.members[1]), `${c.code} after: ${c.members[1]}`);
    }
    // Rules that change, listed and drawn.
    check((await page.getByTestId('preview').getAttribute('data-rules-changed')) === String(preview.rules.length), 'rule changes counted');
    if (edit.kind === 'cross') {
      check(preview.rules.length > 0, 'moving members between branches changes the branches\' rule numbers');
      check((await page.getByTestId('preview-rules').locator('li').count()) === preview.rules.length, 'every rule change listed');
    }
    await waitIdle(page);
    const moves = await rendered(page, ['tool-preview-moves']);
    const movedCodes = new Set(preview.buildings.moves.map((m) => m.code));
    check(moves.length > 0 && moves.every((f) => movedCodes.has(f.props.code)), `moving buildings drawn (${moves.length})`);
    check(moves.some((f) => f.props.members > 0), 'buildings with members drawn');
    const grids = await rendered(page, ['tool-preview-grids']);
    check(grids.length > 0, 'the new boundaries drawn');
    const ruleMarks = await rendered(page, ['tool-preview-rules']);
    summary.rule_markers_drawn = ruleMarks.length;
    if (edit.kind === 'cross') check(ruleMarks.length > 0, 'rule changes drawn');
    summary.preview = { members_moved: preview.members.moved, buildings_moved: preview.buildings.moved, rules: preview.rules.map((r) => `${r.rule}:${r.change}:${r.grid_code}`), cells: preview.cells.map((c) => [c.code, c.members]) };
    await shot(page, 'party-preview.png');
  });

  await step('cancel the edit while the preview is shown: nothing changes', page, async () => {
    await page.getByTestId('edit-cancel').click();
    await page.getByTestId('edit-bar').waitFor({ state: 'hidden' });
    check((await page.getByTestId('preview').count()) === 0, 'the preview is closed with the editor');
    check(!(await page.evaluate(() => !!window.__wangge.map.getLayer('tool-preview-moves'))), 'cancelling removes the preview from the map');
    await untouched(preview);
  });

  await step('edit again, go back to editing from the preview, then save and confirm', page, async () => {
    await openAndDrag();
    await page.getByTestId('edit-save').click();
    await page.getByTestId('preview-back').waitFor();
    check(Number(await page.getByTestId('preview').getAttribute('data-members-moved')) === preview.members.moved, 'the same preview again');
    await page.getByTestId('preview-back').click();
    await page.getByTestId('preview').waitFor({ state: 'detached' });
    check(!(await page.evaluate(() => !!window.__wangge.map.getLayer('tool-preview-moves'))), 'going back removes the preview from the map');
    check(await page.getByTestId('edit-bar').isVisible(), 'still editing');
    check((await page.getByTestId('edit-bar').getAttribute('data-changed')) === edit.codes.join(','), 'the edit is kept');
    await untouched(preview);
    await page.getByTestId('edit-save').click();
    await page.getByTestId('preview-confirm').waitFor();
    const batch = page.waitForRequest((r) => r.url().endsWith('/api/grids/batch') && r.method() === 'POST');
    await page.getByTestId('preview-confirm').click();
    const req = await batch;
    check(JSON.parse(req.postData()).changes.length === edit.codes.length, 'the batch holds every changed grid');
    await page.waitForFunction(() => window.__wangge.app.editor.lastSave?.ok === true, null, { timeout: 30_000 });
    await page.getByTestId('toast').waitFor({ state: 'visible' });
    check(!(await page.evaluate(() => !!window.__wangge.map.getLayer('tool-preview-moves'))), 'the preview is gone after saving');
  });

  await step('the members followed: cells, organisations and a new preview', page, async () => {
    const after = new Map((await api(page, '/api/party/cells')).body.features.map((f) => [f.properties.code, f.properties]));
    for (const c of preview.cells) {
      check(after.get(c.code)?.members === c.members[1], `${c.code} has ${c.members[1]} members now (API says ${after.get(c.code)?.members})`);
    }
    const people = [];
    for (const f of preview.members.flows.filter((x) => x.members > 0)) {
      const to = (await api(page, `/api/party/orgs/${after.get(f.to.group).org_code}`)).body.member_list.map((m) => m.code);
      const from = (await api(page, `/api/party/orgs/${after.get(f.from.group).org_code}`)).body.member_list.map((m) => m.code);
      check(f.people.length === f.members, 'the preview named every moving member');
      for (const p of f.people) {
        check(to.includes(p.code) && !from.includes(p.code), `${p.code} moved from ${f.from.group} to ${f.to.group}`);
        people.push({ code: p.code, to: f.to.group, from: f.from.group });
      }
    }
    summary.moved_people = people;
    // The same shapes again: nothing moves any more.
    const fresh = await Promise.all(edit.codes.map((c) => api(page, `/api/grids/${c}`)));
    const again = await api(page, '/api/party/preview', 'POST', {
      changes: fresh.map((r) => ({ op: 'update', code: r.body.properties.code, version: r.body.properties.version, feature: { type: 'Feature', geometry: r.body.geometry, properties: {} } })),
    });
    check(again.status === 200 && again.body.members.moved === 0 && again.body.buildings.moved === 0, `the preview of the saved shapes is empty (${JSON.stringify(again.body?.members?.moved)})`);
    // The map's cells were downloaded again.
    await waitIdle(page);
    const onMap = await page.evaluate((codes) => Object.fromEntries(window.__wangge.app.layers.data('party').features.filter((f) => codes.includes(f.properties.code)).map((f) => [f.properties.code, f.properties.members])), edit.codes);
    for (const c of preview.cells) if (c.level === 2) check(onMap[c.code] === c.members[1], `the map's cell ${c.code} shows ${c.members[1]} (has ${onMap[c.code]})`);
    await shot(page, 'party-saved.png');
  });

  await step('a change the save would refuse is explained by the preview, and nothing is sent', page, async () => {
    // The vertex as saved, moved in one grid only: a gap and an overlap.
    const grown = (await api(page, `/api/grids/${edit.grow}`)).body;
    const ring = grown.geometry.type === 'Polygon' ? grown.geometry.coordinates.flat() : grown.geometry.coordinates.flat(2);
    const saved = ring.reduce((best, p) => (Math.hypot(p[0] - edit.to[0], p[1] - edit.to[1]) < Math.hypot(best[0] - edit.to[0], best[1] - edit.to[1]) ? p : best));
    await page.evaluate((p) => window.__wangge.map.jumpTo({ center: p, zoom: 17 }), saved);
    await waitIdle(page);
    const at = await pixelOf(page, 'party', 'code', edit.grow, saved);
    check(at, `a clickable pixel of cell ${edit.grow}`);
    await page.mouse.click(at[0], at[1]);
    await page.getByTestId('panel').getByTestId('edit-boundary').click();
    await page.getByTestId('edit-bar').waitFor({ state: 'visible' });
    await page.getByTestId('edit-linked').uncheck();
    const [start, end] = await page.evaluate((p) => {
      const { map } = window.__wangge;
      const r = map.getCanvas().getBoundingClientRect();
      const q = map.project(p);
      return [[r.left + q.x, r.top + q.y], [r.left + q.x + 25, r.top + q.y + 25]];
    }, saved);
    await page.mouse.move(Math.round(start[0]), Math.round(start[1]));
    await page.mouse.down();
    await page.mouse.move(Math.round(end[0]), Math.round(end[1]), { steps: 8 });
    await page.mouse.up();
    check((await page.getByTestId('edit-bar').getAttribute('data-changed')) === edit.grow, 'unlinked: only one grid changes');
    const before = requests.length;
    await page.getByTestId('edit-save').click();
    await page.waitForFunction(() => window.__wangge.app.editor.lastSave?.preview === true, null, { timeout: 30_000 });
    const res = await page.evaluate(() => window.__wangge.app.editor.lastSave);
    check(res.status === 422 && res.error === 'partition_violation' && res.faults > 0, `the preview's refusal is the save's (${JSON.stringify(res)})`);
    await page.getByTestId('preview-refused').waitFor();
    await page.getByTestId('edit-faults').locator('li').first().waitFor();
    const sent = requests.slice(before).map((r) => `${r.method} ${r.url}`);
    check(sent.length === 1 && sent[0] === 'POST /api/party/preview', `only the preview was asked (${sent})`);
    const now = (await api(page, `/api/grids/${edit.grow}`)).body.properties.version;
    check(now === grown.properties.version, 'the refused change wrote nothing');
    await shot(page, 'party-refused.png');
    await page.getByTestId('edit-cancel').click();
    await page.getByTestId('edit-bar').waitFor({ state: 'hidden' });
  });

  await step('the party view in English', page, async () => {
    await page.getByTestId('lang').click();
    await page.getByTestId('legend').locator('.layer-head', { hasText: 'Party cells' }).waitFor({ timeout: 5_000 });
    const legend = await page.getByTestId('legend').locator('section[data-layer="party_findings"]').innerText();
    check(legend.includes('Party rule findings') && legend.includes('Branch with more than 50 members'), `findings legend in English: ${legend}`);
    await page.getByTestId('lang').click();
    await page.getByTestId('legend').locator('.layer-head', { hasText: '党组织网格' }).waitFor({ timeout: 5_000 });
  });
  await ctx.close();
}

// ---- an account that may not see party data ------------------------------------------------

async function viewerTour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  watch(page, 'viewer');
  await step('viewer: sign in and wait for the map', page, () => signIn(page, args.viewer));
  await step('viewer: no party view, and no party data from the API', page, async () => {
    const me = (await api(page, '/api/auth/me')).body;
    check(!(me.permissions.party ?? []).includes('read'), `the viewer may not read party data (${JSON.stringify(me.permissions)})`);
    const layers = await page.evaluate(() => [...window.__wangge.app.layers.states.keys()]);
    check(layers.includes('grids2'), `the viewer has the map's layers (${layers})`);
    check(!layers.includes('party') && !layers.includes('party_findings'), `no party layer (${layers})`);
    check((await page.getByTestId('legend').locator('section[data-layer^="party"]').count()) === 0, 'no party layer in the legend');
    check((await page.getByTestId('tool-party').count()) === 0, 'no party tool button');
    check(!(await page.evaluate(() => !!window.__wangge.map.getLayer('party-fill'))), 'no party style layer');
    const statuses = {};
    for (const path of ['/api/party/cells', `/api/party/findings?format=geojson&year=${args.year}`, `/api/party/report?year=${args.year}`]) {
      statuses[path] = (await api(page, path)).status;
      check(statuses[path] === 403, `${path} answers ${statuses[path]} to the viewer`);
    }
    summary.viewer = { party_status: statuses['/api/party/cells'], statuses, layers };
  });
  await ctx.close();
}

// ---- main -----------------------------------------------------------------------------------

await main(
  args,
  artifacts,
  async (browser) => {
    await tour(browser);
    await viewerTour(browser);
  },
  'party-',
);
