// What every browser script of tests/e2e shares: its command line, the password and the
// artifacts folder, checks and timed steps, watching pages for errors, and the main run
// (Debian's chromium launched the way this machine needs, a screenshot of the page a step
// failed on, one JSON summary printed last, the exit status), and a test photo.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

/**
 * Reads `node SCRIPT BASE_URL --name VALUE ...`. `options` maps each name the script takes
 * to its default; a default of `null` makes the option required. `--artifacts` and
 * `--chromium` are always accepted.
 */
export function parseArgs(script, options, argv = process.argv.slice(2)) {
  const out = { base: null, ...options, artifacts: 'tests/artifacts', chromium: process.env.CHROMIUM ?? '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : null;
    if (name !== null && name in out && name !== 'base') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      out[name] = v;
    } else if (name === null && !out.base) out.base = a.replace(/\/$/, '');
    else throw new Error(`unknown argument ${a}`);
  }
  const missing = Object.keys(options).filter((k) => out[k] === null);
  if (!out.base || missing.length) {
    const flags = Object.entries(options).map(([k, v]) => (v === null ? `--${k} ${k.toUpperCase()}` : `[--${k} ${v}]`));
    throw new Error(`usage: node ${script} BASE_URL ${flags.join(' ')} [--artifacts DIR] [--chromium PATH] (password in WANGGE_E2E_PASSWORD)`);
  }
  return out;
}

/** The test accounts' password, from the environment. */
export function testPassword() {
  const password = process.env.WANGGE_E2E_PASSWORD;
  if (!password) throw new Error("set WANGGE_E2E_PASSWORD to the test accounts' password");
  return password;
}

/** The artifacts folder, created if needed. */
export function artifactsDir(args) {
  const dir = resolve(args.artifacts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- checks, steps and page problems ------------------------------------------------------

export const timings = {};
export const summary = { ok: false, timings, checks: 0 };
/** Uncaught errors and CSP violations seen in any page; a run with any fails. */
export const problems = [];
/** The step running now and its page (photographed when it fails). */
let current = null;

export function check(cond, message) {
  summary.checks++;
  if (!cond) throw new Error(`check failed: ${message}`);
}

/** Runs `fn` as a named, timed step on `page` (or none). */
export async function step(name, page, fn) {
  const t0 = performance.now();
  current = { name, page };
  process.stdout.write(`• ${name} … `);
  try {
    const r = await fn();
    const ms = Math.round(performance.now() - t0);
    timings[name] = ms;
    process.stdout.write(`ok (${ms} ms)\n`);
    return r;
  } catch (e) {
    process.stdout.write('FAILED\n');
    throw e;
  }
}

export function watch(page, who) {
  // Generous: the tests share two cores with the rest of `cargo test` and render in software.
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => problems.push(`${who}: uncaught ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    // A CSP violation means the build needs something the server's policy forbids.
    if (/Content Security Policy|Refused to/.test(text)) problems.push(`${who}: ${text}`);
  });
}

/** Signs `user` in on `page` and waits until the map has drawn its layers. */
export async function signIn(page, base, user, password) {
  await page.goto(base + '/');
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForFunction(() => window.__wangge?.ready === true, null, { timeout: 90_000 });
}

/** A distinctive PNG (a gradient; `blue` tells two apart), so its checksum is its own. */
export function photoPng(w = 160, h = 120, blue = 128) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) row.set([(x * 255) / w, (y * 255) / h, blue], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

// ---- main -----------------------------------------------------------------------------------

/**
 * Launches chromium, runs `tours(browser)`, and ends the process: on a failure it saves a
 * screenshot `failed-{prefix}{step}.png` of the failing step's page; it prints the summary
 * as the last line and exits 0 only when everything passed and no page had problems.
 */
export async function main(args, artifacts, tours, prefix = '') {
  if (!existsSync(args.chromium)) throw new Error(`no chromium at ${args.chromium} (apt-get install chromium, or pass --chromium)`);
  const t0 = performance.now();
  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // WebGL without a GPU: SwiftShader, which Chromium only enables when asked.
      '--enable-unsafe-swiftshader',
      '--use-angle=swiftshader',
    ],
  });
  timings['launch chromium'] = Math.round(performance.now() - t0);
  let failed = null;
  try {
    await tours(browser);
    if (problems.length) throw new Error(`the pages reported problems:\n  ${problems.join('\n  ')}`);
    summary.ok = true;
  } catch (e) {
    failed = e;
    if (current?.page && !current.page.isClosed()) {
      const file = join(artifacts, `failed-${prefix}${current.name.replace(/[^a-z0-9]+/gi, '-')}.png`);
      await current.page.screenshot({ path: file }).catch(() => {});
      console.error(`screenshot of the failure: ${file}`);
    }
    console.error(e?.stack ?? String(e));
    if (problems.length) console.error(`page problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await browser.close();
  }
  timings.total = Math.round(performance.now() - t0);
  summary.error = failed ? String(failed.message ?? failed) : undefined;
  console.log(JSON.stringify(summary));
  process.exit(failed ? 1 : 0);
}
