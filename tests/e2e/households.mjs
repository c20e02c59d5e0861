#!/usr/bin/env node
// Browser test of the building panel's households (issue 14): Debian's chromium driven by
// playwright-core against a running server with the demo district. tests/browser_households.rs
// starts that server on a fresh database, creates the accounts, has the grid's member visit
// VISITED households of BUILDING this week, and runs this script; by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/households.mjs http://127.0.0.1:8080 \
//       --chief CHIEF_USER --viewer VIEWER_USER --building CODE --households N \
//       --labels N --label DOOR --head NAME --visited N --by NAME \
//       [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// What it does:
//   1. the chief of BUILDING's grid finds it by its code in the search box; its panel lists
//      LABELS households (door, residents, head, visited this week: none, since the
//      member's visit counted without naming) in the building's order, NAME as the head
//      of household DOOR, says
//      VISITED of N households were visited this week and by whom;
//   2. a viewer of the town opens the same building: the panel shows the counts (N
//      households) and no household list, no head's name, no visits.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { artifactsDir, check, main, parseArgs, signIn, step, testPassword, watch } from './harness.mjs';

const args = parseArgs('households.mjs', { chief: null, viewer: null, building: null, households: null, labels: null, label: null, head: null, visited: null, by: null });
const password = testPassword();
const artifacts = artifactsDir(args);

/** A page of its own for `user`, signed in, desktop-sized, in a zone other than Shanghai's. */
async function pageFor(browser, user) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'America/New_York' });
  const page = await ctx.newPage();
  watch(page, user);
  await signIn(page, args.base, user, password);
  return { ctx, page };
}

/** Finds the building by its code in the search box and waits for its panel's answer. */
async function openBuilding(page) {
  await page.getByTestId('search').fill(args.building);
  await page.getByTestId('search').press('Enter');
  await page.locator('[data-testid="panel"][data-panel="building"] [data-testid="building-panel"]').waitFor();
  const code = await page.locator('[data-testid="building-facts"] [data-field="code"]').innerText();
  check(code === args.building, `the panel is the building's (${code})`);
  const households = (await page.locator('[data-testid="building-facts"] [data-field="households"]').innerText()).replace(/\D/g, '');
  check(households === args.households, `the panel counts ${args.households} households (${households})`);
}

const digits = (s) => (s.match(/\d+/g) ?? []).map(Number);

async function tour(browser) {
  const chief = await pageFor(browser, args.chief);
  await step('chief: the building panel lists its households with their heads', chief.page, async () => {
    const page = chief.page;
    await openBuilding(page);
    const table = page.getByTestId('building-households');
    await table.waitFor();
    const rows = await table.locator('tbody tr').evaluateAll((els) => els.map((e) => ({ label: e.dataset.household, cells: [...e.querySelectorAll('td')].map((td) => td.textContent ?? '') })));
    check(rows.length === Number(args.labels), `${args.labels} households listed (${rows.length})`);
    check(rows.every((r) => r.cells.length === 4 && r.label && Number(r.cells[1]) > 0), 'each row: door, residents, head, visited this week');
    // The member's visit counted households without naming them: none is marked visited.
    check(rows.every((r) => r.cells[3] === '未走访'), 'no household marked visited by a count-only visit');
    const door = rows.find((r) => r.label === args.label);
    check(door?.cells[2] === args.head, `the head of ${args.label} is ${args.head} (${door?.cells[2]})`);
    const order = rows.map((r) => r.label);
    const sorted = [...order].sort((a, b) => a.localeCompare(b, 'zh', { numeric: true }));
    check(order.join() === sorted.join(), 'doors in the building\'s order (1-201 before 1-1001)');
    check((await page.getByText('户主').count()) > 0, 'the head column is named 户主');
  });
  await step("chief: this week's visits of the building", chief.page, async () => {
    const visits = chief.page.getByTestId('building-visits');
    await visits.waitFor();
    const done = digits(await visits.locator('[data-field="households_visited"]').innerText());
    check(done[0] === Number(args.visited) && done[1] === Number(args.households), `${args.visited} of ${args.households} households visited (${done})`);
    const text = await visits.innerText();
    check(text.includes(args.by), `the visit says by whom (${args.by})`);
    await chief.page.screenshot({ path: `${artifacts}/households-chief.png` });
  });
  await chief.ctx.close();

  const viewer = await pageFor(browser, args.viewer);
  await step('viewer: the same building shows counts only', viewer.page, async () => {
    const page = viewer.page;
    await openBuilding(page);
    await page.getByTestId('building-households-counts').waitFor();
    check((await page.getByTestId('building-households').count()) === 0, 'no household list for a viewer');
    check((await page.getByTestId('building-visits').count()) === 0, 'no visits for a viewer');
    const text = await page.locator('[data-testid="panel"]').innerText();
    check(!text.includes(args.head), `the head's name (${args.head}) is not shown to a viewer`);
    check(!text.includes('户主'), 'no head column for a viewer');
    await page.screenshot({ path: `${artifacts}/households-viewer.png` });
  });
  await viewer.ctx.close();
}

await main(args, artifacts, tour, 'households-');
