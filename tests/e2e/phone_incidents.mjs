#!/usr/bin/env node
// Browser test of "my incidents" on the patrol phone (issue 14): Debian's chromium driven by
// playwright-core against a running server with the demo district.
// tests/browser_incidents.rs starts that server on a fresh database, creates the accounts and
// the two incidents (assigned to the patrol account's staff member) and runs this script;
// by hand:
//
//   WANGGE_E2E_PASSWORD=... node tests/e2e/phone_incidents.mjs http://127.0.0.1:8080 \
//       --chief CHIEF_USER --patrol PATROL_USER --target ID --moved ID \
//       --staff-chief CHIEF_USER --own ID \
//       [--artifacts tests/artifacts] [--chromium /usr/bin/chromium]
//
// TARGET and MOVED are incidents of the chief's grid assigned to the patrol account's staff
// member (TARGET with a photo); OWN one assigned to the staff record the second chief
// account (--staff-chief) is linked to. What it does:
//   1. the phone (patrol account, 390 px wide, a browser in New York) signs in: the patrol
//      bar counts 2 of my incidents; the list shows each with category, status, grid,
//      reported when (in Shanghai time), time left, description, and TARGET's photo;
//   2. cuts the network and reloads: the app and the list open from the phone's storage;
//   3. still offline: starts TARGET, resolves it with a note and a photo from the camera
//      input (no note, nothing queued), starts MOVED; the list marks them waiting, the queue
//      holds start, photo, resolve, start in that order, all pending, described in Chinese,
//      and nothing was sent;
//   4. the chief (desktop) closes MOVED as a duplicate meanwhile, in the web panel;
//   5. the network is back: TARGET's three uploads are acknowledged, MOVED's start is
//      refused (409) and shown plainly, and not sent again; the server holds TARGET resolved
//      with the note and the photo byte for byte; TARGET leaves my list; dismissing the
//      refusal takes MOVED off too;
//      the list in English;
//   6. the chief opens TARGET in the web panel (the note in its history), verifies it, and
//      it leaves the open list;
//   7. the chief linked to the staff list gets the bar of its own incidents, listing OWN,
//      and starts it from there.
// It exits non-zero on the first failed check and prints one JSON line (the summary) last.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { artifactsDir, check, main, parseArgs, photoPng, signIn as harnessSignIn, step, summary, testPassword, watch } from './harness.mjs';

const args = parseArgs('phone_incidents.mjs', { chief: null, patrol: null, target: null, moved: null, 'staff-chief': null, own: null });
const password = testPassword();
const artifacts = artifactsDir(args);
const NOTE = '已更换灯泡，楼道照明恢复（e2e）';

const signIn = (page, user) => harnessSignIn(page, args.base, user, password);

/** A request from inside the page, with its session. */
function api(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin', cache: 'no-store' });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, path);
}

async function waitPatrolReady(page) {
  await page.waitForFunction(() => window.__wangge?.ready === true && document.querySelector('[data-testid=patrol-bar]')?.dataset.ready === '1', null, { timeout: 90_000 });
}

/** My incidents' rows as shown: id, status, waiting and refused uploads, text. */
function mineRows(page) {
  return page.getByTestId('mine-row').evaluateAll((els) =>
    els.map((e) => ({ id: e.dataset.id, status: e.dataset.status, pending: Number(e.dataset.pending), failed: Number(e.dataset.failed), photo: !!e.querySelector('img.thumb'), text: e.textContent ?? '' })),
  );
}

/** The outbox as the page holds it. */
function queue(page) {
  return page.evaluate(() => {
    const o = window.__wanggePatrol.outbox;
    return {
      items: o.items.map((i) => ({ kind: i.kind, status: i.status, attempts: i.attempts, http: i.httpStatus ?? null, ref: i.ref })),
      sent: o.sent.map((s) => ({ kind: s.kind, status: s.status, ref: s.ref })),
    };
  });
}

/** Opens my incidents from the patrol bar and waits for the list. */
async function openMine(page) {
  if (!(await page.getByTestId('mine-list').isVisible().catch(() => false))) await page.getByTestId('mine-badge').click();
  await page.getByTestId('mine-list').waitFor();
}

const row = (page, id) => page.locator(`[data-testid="mine-row"][data-id="${id}"]`);

async function tour(browser) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, locale: 'zh-CN', timezoneId: 'America/New_York', hasTouch: true });
  const phone = await ctx.newPage();
  watch(phone, 'phone');
  const puts = [];
  phone.on('request', (r) => {
    if (r.method() !== 'GET' && r.url().includes('/api/incidents')) puts.push(`${r.method()} ${r.url()}`);
  });

  await step('phone: sign in, my incidents counted in the patrol bar', phone, async () => {
    await signIn(phone, args.patrol);
    await waitPatrolReady(phone);
    await phone.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: 30_000 });
    await phone.locator('[data-testid="mine-badge"][data-count="2"]').waitFor({ timeout: 30_000 });
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `the page fits the phone (${width} px)`);
  });

  await step('phone: the list shows each incident in full', phone, async () => {
    await openMine(phone);
    // The thumbnail of TARGET's photo is made and kept before the list is shown whole.
    await phone.waitForFunction((id) => !!document.querySelector(`[data-testid="mine-row"][data-id="${id}"] img.thumb`), args.target);
    const rows = await mineRows(phone);
    check(rows.length === 2, `two incidents of mine (${JSON.stringify(rows)})`);
    const t = rows.find((r) => r.id === args.target);
    check(t && t.status === 'assigned' && t.photo, `TARGET assigned, with its photo (${JSON.stringify(t)})`);
    check(t.text.includes('设施损坏') && t.text.includes('楼道灯不亮') && t.text.includes('剩余') && t.text.includes('已分派'), `category, description, time left, status (${t.text})`);
    // Reported when, as clocks in Shanghai show it (the browser runs in New York).
    const incident = (await api(phone, `/api/incidents/${args.target}`)).body;
    const shanghai = await phone.evaluate((at) => new Date(at).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }), incident.reported_at);
    check(t.text.includes(shanghai), `reported at ${shanghai} (Shanghai) shown (${t.text})`);
    check(t.text.includes(incident.grid), `the grid ${incident.grid} shown`);
    await phone.screenshot({ path: join(artifacts, 'phone-mine-online.png') });
  });

  await step('phone: offline, a reload opens the app and the list kept on the phone', phone, async () => {
    await ctx.setOffline(true);
    await phone.waitForFunction(() => navigator.onLine === false);
    await phone.reload();
    await waitPatrolReady(phone);
    await phone.locator('[data-testid="mine-badge"][data-count="2"]').waitFor({ timeout: 30_000 });
    await openMine(phone);
    await phone.locator('[data-testid="mine-list"][data-stale="1"]').waitFor();
    const asOf = await phone.getByTestId('mine-as-of').textContent();
    check(asOf.includes('离线'), `the list says it is the kept one (${asOf})`);
    const rows = await mineRows(phone);
    check(rows.length === 2 && rows.find((r) => r.id === args.target)?.photo, `both listed offline, the photo too (${JSON.stringify(rows)})`);
  });

  const png = photoPng(200, 150, 40);
  summary.photo_sha256 = createHash('sha256').update(png).digest('hex');
  summary.photo_bytes = png.length;
  summary.note = NOTE;

  await step('phone: offline, start and resolve TARGET with a note and a photo; start MOVED', phone, async () => {
    await row(phone, args.target).getByTestId('mine-start').click();
    await phone.locator(`[data-testid="mine-row"][data-id="${args.target}"][data-status="in_progress"][data-pending="1"]`).waitFor();
    await row(phone, args.target).getByTestId('mine-resolve').click();
    const form = phone.getByTestId('mine-resolve-form');
    await form.waitFor();
    check((await phone.getByTestId('mine-photo').getAttribute('capture')) === 'environment' && (await phone.getByTestId('mine-photo').getAttribute('accept')) === 'image/*', 'the photo comes from the back camera');
    await phone.getByTestId('mine-resolve-submit').click();
    check((await form.locator('.error').textContent()).length > 0, 'without a note the form says so');
    check((await queue(phone)).items.length === 1, 'and queues nothing');
    await phone.getByTestId('mine-note').fill(NOTE);
    await phone.getByTestId('mine-photo').setInputFiles({ name: 'after.png', mimeType: 'image/png', buffer: png });
    await phone.getByTestId('mine-thumbs').locator('img').waitFor();
    await phone.screenshot({ path: join(artifacts, 'phone-mine-resolve.png') });
    await phone.getByTestId('mine-resolve-submit').click();
    await phone.locator(`[data-testid="mine-row"][data-id="${args.target}"][data-status="resolved"][data-pending="3"]`).waitFor();
    await row(phone, args.moved).getByTestId('mine-start').click();
    await phone.locator(`[data-testid="mine-row"][data-id="${args.moved}"][data-status="in_progress"][data-pending="1"]`).waitFor();
    const waiting = await row(phone, args.target).getByTestId('mine-waiting').textContent();
    check(waiting.includes('等待发送') && waiting.includes('处置完毕'), `TARGET shows what waits (${waiting})`);
    await phone.locator('[data-testid="mine-badge"][data-count="1"]').waitFor();
  });

  await step('phone: the queue holds the steps, pending, in order; nothing sent', phone, async () => {
    const q = await queue(phone);
    const kinds = q.items.map((i) => `${i.kind}:${i.ref === args.target ? 'T' : 'M'}`);
    check(JSON.stringify(kinds) === JSON.stringify(['start:T', 'resolve_photo:T', 'resolve:T', 'start:M']), `queued ${kinds}`);
    check(q.items.every((i) => i.status === 'pending'), 'every item pending');
    check(puts.length === 0, `nothing sent while offline (${puts})`);
    await phone.getByTestId('queue-badge').click();
    await phone.getByTestId('queue-items').waitFor();
    const text = await phone.getByTestId('queue').innerText();
    check(text.includes('开始处置') && text.includes('处置照片') && text.includes('处置完毕'), `the items are described in Chinese (${text})`);
    await phone.screenshot({ path: join(artifacts, 'phone-mine-queue.png') });
    await phone.getByTestId('queue-badge').click();
  });

  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'America/New_York' });
  const chief = await desk.newPage();
  watch(chief, 'chief');
  const openIncident = async (id, status) => {
    await chief.getByTestId('tool-incidents').click();
    await chief.getByTestId('incidents-panel').waitFor();
    await chief.locator(`[data-testid="incident-row"][data-id="${id}"] button`).click();
    await chief.locator(`[data-testid="incident"][data-status="${status}"]`).waitFor();
  };

  await step('chief: closes MOVED as a duplicate meanwhile', chief, async () => {
    await signIn(chief, args.chief);
    await openIncident(args.moved, 'assigned');
    check((await chief.getByTestId('patrol-bar').count()) === 0, 'a chief with nothing assigned gets no patrol bar');
    await chief.getByTestId('step-close_duplicate').click();
    await chief.locator('[data-testid="incident"][data-status="closed"]').waitFor();
  });

  await step('phone: back online, TARGET synced, the refused start shown and not retried', phone, async () => {
    await ctx.setOffline(false);
    await phone.waitForFunction(
      () => {
        const o = window.__wanggePatrol.outbox;
        return o.items.length === 1 && o.items[0].status === 'failed' && o.sending === null;
      },
      null,
      { timeout: 90_000, polling: 200 },
    );
    const q = await queue(phone);
    const sent = q.sent.filter((s) => s.ref === args.target).map((s) => `${s.kind}:${s.status}`).reverse();
    check(JSON.stringify(sent) === JSON.stringify(['start:201', 'resolve_photo:201', 'resolve:201']), `TARGET's uploads acknowledged in order (${sent})`);
    check(q.items[0].ref === args.moved && q.items[0].kind === 'start' && q.items[0].http === 409, `MOVED's start refused with 409 (${JSON.stringify(q.items)})`);
    const refused = row(phone, args.moved).getByTestId('mine-refused');
    await refused.waitFor();
    const said = await refused.textContent();
    check(said.includes('网格长已先处理了此事件') && (await refused.getAttribute('data-status')) === '409', `said plainly (${said})`);
    // TARGET, resolved on the server, leaves the list once it is downloaded again.
    await row(phone, args.target).waitFor({ state: 'detached', timeout: 30_000 });
    // A refused step is not sent again by itself (the outbox tries every 3 s).
    await phone.waitForTimeout(7_000);
    const later = await queue(phone);
    check(later.items.length === 1 && later.items[0].attempts === 1, `tried once only (${JSON.stringify(later.items)})`);
    await phone.screenshot({ path: join(artifacts, 'phone-mine-refused.png') });
  });

  await step('phone: the server holds TARGET resolved, with the note and the photo', phone, async () => {
    const v = (await api(phone, `/api/incidents/${args.target}`)).body;
    check(v.status === 'resolved', `TARGET is resolved (${v.status})`);
    const last = v.history[v.history.length - 1];
    check(last.to === 'resolved' && last.note === NOTE && last.by === args.patrol, `the resolution's note in the history (${JSON.stringify(last)})`);
    const photo = v.photos.find((p) => p.sha256 === summary.photo_sha256);
    check(photo && photo.bytes === png.length && photo.content_type === 'image/png', `the photo stored byte for byte (${JSON.stringify(v.photos)})`);
    const back = await phone.evaluate(async (u) => {
      const b = new Uint8Array(await (await fetch(u)).arrayBuffer());
      const d = await crypto.subtle.digest('SHA-256', b);
      return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join('');
    }, `/api/incidents/${args.target}/photos/${photo.id}`);
    check(back === summary.photo_sha256, 'the photo is served back as sent');
  });

  await step('phone: dismissing the refusal leaves an empty list', phone, async () => {
    await row(phone, args.moved).getByTestId('mine-dismiss').click();
    await row(phone, args.moved).waitFor({ state: 'detached' });
    await phone.locator('[data-testid="mine-badge"][data-count="0"]').waitFor();
    check((await queue(phone)).items.length === 0, 'the queue is empty');
  });

  await step('phone: my incidents in English', phone, async () => {
    await phone.getByTestId('lang').click();
    await phone.waitForFunction(() => document.querySelector('[data-testid=mine-list]')?.textContent.includes('Incidents assigned to me'), null, { timeout: 10_000 });
    const text = await phone.getByTestId('mine-list').textContent();
    const badge = await phone.getByTestId('mine-badge').textContent();
    check(text.includes('No open incident is assigned to you') && badge.includes('My incidents'), `English words (${badge} / ${text})`);
    await phone.getByTestId('lang').click();
  });
  await ctx.close();

  await step('chief: sees the note, verifies TARGET, and it leaves the open list', chief, async () => {
    await openIncident(args.target, 'resolved');
    const history = await chief.getByTestId('incident-history').textContent();
    check(history.includes(NOTE) && history.includes(args.patrol), `the note and who resolved it (${history})`);
    check((await chief.getByTestId('incident-photos').locator('img').count()) === 2, 'the reporter\'s photo and the resolution\'s');
    await chief.getByTestId('step-verify').click();
    await chief.locator('[data-testid="incident"][data-status="verified"]').waitFor();
    await chief.getByTestId('tool-incidents').click();
    await chief.getByTestId('incidents-panel').waitFor();
    const ids = await chief.getByTestId('incident-row').evaluateAll((els) => els.map((e) => e.dataset.id));
    check(!ids.includes(args.target) && !ids.includes(args.moved), `neither is open any more (${ids})`);
    await chief.screenshot({ path: join(artifacts, 'phone-mine-verified.png') });
  });
  await desk.close();

  const own = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', hasTouch: true });
  const staffChief = await own.newPage();
  watch(staffChief, 'staff chief');
  await step('chief on the staff list: the bar of their own incidents, started from there', staffChief, async () => {
    await signIn(staffChief, args['staff-chief']);
    await staffChief.locator('[data-testid="patrol-bar"][data-ready="1"]').waitFor({ timeout: 30_000 });
    await staffChief.locator('[data-testid="mine-badge"][data-count="1"]').waitFor();
    await staffChief.getByTestId('mine-list').waitFor();
    const rows = await mineRows(staffChief);
    check(rows.length === 1 && rows[0].id === args.own && rows[0].status === 'assigned', `OWN listed (${JSON.stringify(rows)})`);
    check((await staffChief.getByTestId('patrol-start').count()) === 0, 'no patrol to start: a chief logs none');
    await row(staffChief, args.own).getByTestId('mine-start').click();
    await staffChief.waitForFunction(() => {
      const o = window.__wanggePatrol.outbox;
      return o.items.length === 0 && o.sent.some((s) => s.kind === 'start' && s.status === 201);
    }, null, { timeout: 30_000 });
    await staffChief.locator(`[data-testid="mine-row"][data-id="${args.own}"][data-status="in_progress"]`).waitFor();
    await staffChief.screenshot({ path: join(artifacts, 'phone-mine-chief.png') });
  });
  await own.close();
}

await main(args, artifacts, tour, 'phone-incidents-');
