#!/usr/bin/env node
// Browser test of the incidents panel (issue 14): Debian's chromium driven by playwright-core
// against a running server with the demo district. tests/browser_incidents.rs starts that
// server on a fresh database, creates the accounts and the two incidents and runs this
// script; by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/incidents.mjs http://127.0.0.1:8080 \
//       --chief CHIEF_USER --patrol PATROL_USER --member STAFF_CODE --overdue ID --fresh ID \
//       [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// The patrol account must be linked to the staff member STAFF_CODE of the chief's grid;
// OVERDUE and FRESH are open incidents (status reported) of that grid, OVERDUE past its
// deadline. What it does:
//   1. the chief signs in: the incidents button counts 2; the panel lists the overdue one
//      first, marked overdue, with its time overdue; "overdue only" keeps it alone; the map
//      layer of open incidents is switched on and holds both;
//   2. the chief opens FRESH and assigns it to STAFF_CODE (the only steps offered are
//      assign and the two closings);
//   3. the member signs in, opens FRESH from the list, starts it and resolves it with a note
//      (without a note the app refuses to send it); verifying is not offered;
//   4. the chief opens FRESH again, verifies and closes it: it leaves the open list and the
//      count falls to 1.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, signIn as harnessSignIn, step, testPassword, watch } from './harness.mjs';

const args = parseArgs('incidents.mjs', { chief: null, patrol: null, member: null, overdue: null, fresh: null });
const password = testPassword();
const artifacts = artifactsDir(args);
const NOTE = '已清运，现场已恢复整洁（e2e）';

const signIn = (page, user) => harnessSignIn(page, args.base, user, password);

/** A page of its own for `user`, signed in, desktop-sized, in a zone other than Shanghai's. */
async function pageFor(browser, user) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'America/New_York' });
  const page = await ctx.newPage();
  watch(page, user);
  await signIn(page, user);
  return { ctx, page };
}

/** Opens the incidents panel and waits for its list. */
async function openList(page) {
  await page.getByTestId('tool-incidents').click();
  await page.getByTestId('incidents-panel').waitFor();
}

/** The rows of the list: id, overdue flag, text. */
function rows(page) {
  return page.getByTestId('incident-row').evaluateAll((els) => els.map((e) => ({ id: e.dataset.id, overdue: e.dataset.overdue === '1', text: e.textContent ?? '' })));
}

/** Opens one incident from the list and waits until its panel shows `status`. */
async function openIncident(page, id, status) {
  await openList(page);
  await page.locator(`[data-testid="incident-row"][data-id="${id}"] button`).click();
  await page.locator(`[data-testid="incident"][data-status="${status}"]`).waitFor();
}

/** Clicks a step's button and waits until the panel shows the new status. */
async function takeStep(page, button, status) {
  await page.getByTestId(button).click();
  await page.locator(`[data-testid="incident"][data-status="${status}"]`).waitFor();
}

/** The test ids of the step buttons shown. */
function stepButtons(page) {
  return page.locator('[data-testid^="step-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
}

async function tour(browser) {
  const chief = await pageFor(browser, args.chief);
  const page = chief.page;

  await step('chief: the count, the list sorted by how overdue, the overdue one marked', page, async () => {
    await page.locator('[data-testid="badge-incidents"]:not([hidden])').waitFor();
    const badge = await page.getByTestId('badge-incidents').textContent();
    check(badge === '2', `the button counts 2 open incidents (${badge})`);
    await openList(page);
    const list = await rows(page);
    check(list.length === 2, `two open incidents listed (${JSON.stringify(list)})`);
    check(list[0].id === args.overdue && list[0].overdue, `the overdue one first and marked (${JSON.stringify(list)})`);
    check(list[0].text.includes('逾期'), `its time says overdue (${list[0].text})`);
    check(list[1].id === args.fresh && !list[1].overdue && list[1].text.includes('剩余'), `the other has time left (${list[1].text})`);
    check(list[1].text.includes('环境卫生') && list[1].text.includes(args.chief), `category and reporter shown (${list[1].text})`);
    await page.getByTestId('incidents-filter-overdue').check();
    const only = await rows(page);
    check(only.length === 1 && only[0].id === args.overdue, `"overdue only" keeps the overdue one (${JSON.stringify(only)})`);
    await page.getByTestId('incidents-filter-overdue').uncheck();
    await page.getByTestId('incidents-filter-category').selectOption('environment');
    const env = await rows(page);
    check(env.length === 1 && env[0].id === args.fresh, `the category filter (${JSON.stringify(env)})`);
    await page.getByTestId('incidents-filter-category').selectOption('');
    await page.screenshot({ path: join(artifacts, 'incidents-list.png') });
  });

  await step('chief: the map draws the open incidents, coloured by status, overdue ringed', page, async () => {
    await page.waitForFunction(() => document.querySelector('.legend section.layer[data-layer="open_incidents"]')?.dataset.status === 'ready');
    const drawn = await page.evaluate(() => {
      const w = window.__wangge;
      const data = w.app.layers.data('open_incidents');
      return {
        layers: ['open_incidents-point', 'open_incidents-cluster', 'open_incidents-count'].map((l) => !!w.map.getLayer(l) && w.map.getLayoutProperty(l, 'visibility') !== 'none'),
        features: (data?.features ?? []).map((f) => ({ id: f.properties.id, overdue: f.properties.overdue, status: f.properties.status })),
      };
    });
    check(drawn.layers.every(Boolean), `the point, cluster and count layers are on (${JSON.stringify(drawn.layers)})`);
    check(drawn.features.length === 2 && drawn.features.some((f) => f.id === args.overdue && f.overdue === true), `both incidents on the map, the overdue one flagged (${JSON.stringify(drawn.features)})`);
  });

  await step('chief: assigns the fresh incident to the grid member', page, async () => {
    await page.locator(`[data-testid="incident-row"][data-id="${args.fresh}"] button`).click();
    await page.locator('[data-testid="incident"][data-status="reported"]').waitFor();
    const offered = await stepButtons(page);
    check(JSON.stringify(offered.sort()) === JSON.stringify(['step-assign', 'step-close_duplicate', 'step-close_not_problem']), `a reported incident offers assign and the closings (${offered})`);
    const options = await page.getByTestId('incident-assignee').locator('option').evaluateAll((os) => os.map((o) => o.value));
    check(options.includes(args.member), `the member is among the assignees (${options})`);
    await page.getByTestId('incident-assignee').selectOption(args.member);
    await takeStep(page, 'step-assign', 'assigned');
    const history = await page.getByTestId('incident-history').textContent();
    check(history.includes(args.member) && history.includes(args.chief), `the history says who assigned to whom (${history})`);
  });

  const member = await pageFor(browser, args.patrol);
  await step('member: starts and resolves it with a note', member.page, async () => {
    const p = member.page;
    await openIncident(p, args.fresh, 'assigned');
    check(JSON.stringify(await stepButtons(p)) === JSON.stringify(['step-start']), `the assignee may only start (${await stepButtons(p)})`);
    await takeStep(p, 'step-start', 'in_progress');
    check(JSON.stringify(await stepButtons(p)) === JSON.stringify(['step-resolve']), `then only resolve (${await stepButtons(p)})`);
    await p.getByTestId('step-resolve').click();
    await p.locator('[data-testid="toast"].error').waitFor();
    check((await p.locator('[data-testid="incident"]').getAttribute('data-status')) === 'in_progress', 'no note, nothing sent');
    await p.getByTestId('incident-note').fill(NOTE);
    await takeStep(p, 'step-resolve', 'resolved');
    const offered = await stepButtons(p);
    check(!offered.includes('step-verify'), `verifying is not the member's (${offered})`);
    await p.screenshot({ path: join(artifacts, 'incidents-resolved.png') });
  });
  await member.ctx.close();

  await step('chief: verifies and closes it; it leaves the open list', page, async () => {
    await openIncident(page, args.fresh, 'resolved');
    const history = await page.getByTestId('incident-history').textContent();
    check(history.includes(NOTE), `the resolution's note is in the history (${history})`);
    const offered = await stepButtons(page);
    check(['step-verify', 'step-send_back'].every((b) => offered.includes(b)), `verify and send back offered (${offered})`);
    await takeStep(page, 'step-verify', 'verified');
    await takeStep(page, 'step-close', 'closed');
    await openList(page);
    const list = await rows(page);
    check(list.length === 1 && list[0].id === args.overdue, `only the overdue one is left open (${JSON.stringify(list)})`);
    const badge = await page.getByTestId('badge-incidents').textContent();
    check(badge === '1', `the button counts 1 (${badge})`);
    await page.screenshot({ path: join(artifacts, 'incidents-closed.png') });
  });

  await step("chief: downloads this month's incident report", page, async () => {
    await page.getByTestId('incidents-report').locator('summary').click();
    const month = await page.getByTestId('incidents-report-month').inputValue();
    const shanghai = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7);
    check(month === shanghai, `the month offered is this month in Shanghai (${month})`);
    const href = await page.getByTestId('incidents-report-xlsx').getAttribute('href');
    check(href.includes(`month=${month}`) && href.includes('format=xlsx') && href.endsWith('lang=zh'), `the XLSX link asks for the month in Chinese (${href})`);
    const csvHref = await page.getByTestId('incidents-report-csv').getAttribute('href');
    const r = await page.request.get(new URL(csvHref, args.base).toString());
    check(r.status() === 200, `the report downloads (${r.status()})`);
    const lines = (await r.text()).replace(/^\uFEFF/, '').split('\n');
    check(lines[0].startsWith(`事件月报 · ${month}`), `its title row (${lines[0]})`);
    check(lines[1].startsWith('层级,社区编码,社区,一级网格编码,网格编码,网格,上报件数'), `its columns in Chinese (${lines[1]})`);
    const reported = lines.slice(2).filter((l) => l.startsWith('网格,')).reduce((n, l) => n + Number(l.split(',')[6]), 0);
    check(reported >= 1, `this month's incident is counted in a grid (${reported})`);
  });
  await chief.ctx.close();
}

await main(args, artifacts, tour, 'incidents-');
