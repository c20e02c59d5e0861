#!/usr/bin/env node
// Browser test of the assessment view (issue 15): Debian's chromium driven by playwright-core
// against a running server with the demo district. tests/browser_assess.rs starts that
// server on a fresh database, creates the administrator and runs this script; by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/assess.mjs http://127.0.0.1:8080 \
//       --admin ADMIN_USER --year YEAR --community CODE --person CODE --grade 好 \
//       [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// What it does, as the street office's administrator:
//   1. opens the 考评 tool panel on YEAR and finds COMMUNITY;
//   2. enters the three layers' ratings and sees the grade GRADE and a rank;
//   3. enters an annual pledge of PERSON, assessed as met, and sees it counted;
//   4. downloads the year's XLSX (saved to the artifacts as assess-YEAR.xlsx for the Rust
//      side to read with GDAL) and opens the community's printable page.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, signIn, step, summary, testPassword, watch } from './harness.mjs';

const args = parseArgs('assess.mjs', { admin: null, year: null, community: null, person: null, grade: null });
const password = testPassword();
const artifacts = artifactsDir(args);

async function tour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN', acceptDownloads: true });
  const page = await ctx.newPage();
  watch(page, args.admin);
  await signIn(page, args.base, args.admin, password);
  const section = () => page.locator(`[data-testid="assess-view"] [data-community="${args.community}"]`);

  await step('admin: the assessment view opens on the year', page, async () => {
    await page.getByTestId('tool-assess').click();
    await page.getByTestId('assess-year').selectOption(args.year);
    await section().waitFor();
  });

  await step("admin: enters the layers' ratings and sees the grade and rank", page, async () => {
    await section().locator('details.assess-entry > summary').click();
    const form = section().getByTestId('ratings-form');
    for (const [layer, score] of [['members', '95'], ['residents', '92'], ['street', '90']]) {
      await form.getByTestId(`rating-${layer}`).fill(score);
      await form.getByTestId(`raters-${layer}`).fill('12');
    }
    await form.locator('button[type="submit"]').click();
    await page.waitForFunction(
      ({ code, grade }) => document.querySelector(`[data-testid="assess-view"] [data-community="${code}"] [data-testid="assess-grade"]`)?.textContent === grade,
      { code: args.community, grade: args.grade },
    );
    const rank = await section().getByTestId('assess-rank').innerText();
    check(/\d/.test(rank), `a rank is shown (${rank})`);
    summary.rank = rank;
    await page.screenshot({ path: join(artifacts, 'assess-grade.png') });
  });

  await step('admin: enters a pledge and its annual result', page, async () => {
    await section().locator('details.assess-entry > summary').click();
    const form = section().getByTestId('pledge-form');
    await form.getByTestId('pledge-person').fill(args.person);
    await form.getByTestId('pledge-kind').selectOption('annual');
    await form.getByTestId('pledge-target').fill('新增志愿者五十名');
    await form.getByTestId('pledge-annual').selectOption('met');
    await form.locator('button[type="submit"]').click();
    await page.waitForFunction(
      (code) => /承诺 1 项 · 年度考评 完成 1/.test(document.querySelector(`[data-testid="assess-view"] [data-community="${code}"]`)?.textContent ?? ''),
      args.community,
    );
  });

  await step("admin: downloads the year's workbook", page, async () => {
    const href = await page.getByTestId('assess-xlsx').getAttribute('href');
    check(href === `/api/assess/${args.year}/export?format=xlsx`, `the link asks for the year's XLSX (${href})`);
    const r = await page.request.get(new URL(href, args.base).toString());
    check(r.status() === 200, `the workbook downloads (${r.status()})`);
    check((r.headers()['content-type'] ?? '').includes('spreadsheetml'), 'an XLSX file');
    const path = join(artifacts, `assess-${args.year}.xlsx`);
    writeFileSync(path, await r.body());
    summary.xlsx = path;
  });

  await step("admin: opens the community's printable page", page, async () => {
    const [popup] = await Promise.all([page.waitForEvent('popup'), section().getByTestId('assess-print').click()]);
    await popup.waitForLoadState();
    await popup.emulateMedia({ media: 'print' });
    const text = await popup.locator('body').innerText();
    check(text.includes(`${args.year} 年度考评`), 'the page is the year\'s assessment');
    check(text.includes(args.grade), `the page shows the grade ${args.grade}`);
    check(text.includes('客观考评'), 'the page shows the scorecard');
    await popup.screenshot({ path: join(artifacts, 'assess-print.png'), fullPage: true });
    summary.printed = true;
  });
  await ctx.close();
}

await main(args, artifacts, tour, 'assess-');
