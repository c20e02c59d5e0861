// The outbox: every patrol upload (start, track chunks, end, incidents, photos) and every
// step the phone takes on an incident assigned to it (start, the resolution's photo, resolve)
// is first written to IndexedDB with the id the phone made for it, then sent when there is a
// connection. The server answers a repeat of the same upload with the same result and
// stores nothing twice (src/http/patrols.rs, src/http/incidents.rs), so sending again is
// always safe; an item leaves the queue only once the server acknowledged it with a 2xx.
// A step carries the status the phone saw (`from`): when the incident moved on meanwhile
// the server answers 409, and the item is failed (kept, shown, not retried by itself).
//
// Order matters (a chunk needs its patrol, a photo its incident), so items are sent one by
// one in the order they were made, and a pass stops at the first one that should be
// retried (no connection, 5xx, 401, 408, 429): the rest wait behind it. An item the server
// refuses for good (another 4xx) is marked failed, kept with the server's message, and
// skipped; the user may retry or discard it.
//
// When: right after something is queued, on the browser's `online` event, and every few
// seconds for items whose back-off (2 s doubling to 5 min, with jitter) has run out.
// Nothing is tried while `navigator.onLine` is false.

import { csrfToken, sessionEnded } from '../api';
import { all, count, del, put, tx } from './db';
import type { KeyIn } from '../i18n';
import { Listeners } from '../listeners';

export type Kind = 'patrol' | 'chunk' | 'end' | 'incident' | 'photo' | 'start' | 'resolve_photo' | 'resolve';

/** What an item is, for people: an i18n key and its values. */
export interface Label {
  key: KeyIn<'patrol'>;
  vars?: Record<string, string | number>;
}

/** One queued upload: a PUT, or the POST of an incident's step; each is idempotent under
 * the id the phone made for it. */
export interface Item {
  /** IndexedDB key: the order items were made in. */
  seq?: number;
  /** The account that made it; only that account's session sends it. */
  user: string;
  kind: Kind;
  url: string;
  /** `POST` for an incident's step; `PUT` (the default) for everything else. */
  method?: 'PUT' | 'POST';
  /** A JSON body ... */
  json?: unknown;
  /** ... or raw bytes (a photo). */
  blob?: Blob;
  /** Hex SHA-256 of `blob`, sent as `x-content-sha256` for the server to check. */
  sha256?: string | null;
  label: Label;
  /** The patrol (or incident) the upload belongs to. */
  ref: string;
  status: 'pending' | 'failed';
  attempts: number;
  /** Not before this time (ms since 1970): the back-off. */
  nextAt: number;
  /** The last error: the server's message, or why the connection failed. */
  error?: string;
  /** The last HTTP status (0: no answer). */
  httpStatus?: number;
  created: number;
}

/** An acknowledged upload, kept for the visible queue. */
export interface Sent {
  seq?: number;
  user: string;
  kind: Kind;
  url: string;
  label: Label;
  ref: string;
  /** 201 the first time, 200 for a repeat the server recognised. */
  status: number;
  replayed: boolean;
  attempts: number;
  created: number;
  at: number;
}

/** What one pass did. */
export interface PassResult {
  sent: number;
  failed: number;
  /** Whether it stopped at an item to retry later. */
  blocked: boolean;
}

const BASE_MS = 2_000;
const MAX_MS = 5 * 60_000;
const TICK_MS = 3_000;
const SENT_KEPT = 200;
const TIMEOUT_MS = 30_000;
const PHOTO_TIMEOUT_MS = 120_000;

/** The wait before attempt `n + 1` after `n` failed ones. */
export function backoff(attempts: number, random = Math.random()): number {
  const d = Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, attempts - 1));
  return Math.round(d * (0.8 + 0.4 * random));
}

type Outcome =
  | { ok: true; status: number; replayed: boolean }
  | { ok: false; retry: boolean; status: number; message: string };

/** Whether an answer means "try again later" rather than "this upload is wrong". */
function retryable(status: number): boolean {
  return status === 0 || status === 401 || status === 408 || status === 429 || status >= 500;
}

async function send(item: Item): Promise<Outcome> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = csrfToken();
  if (token) headers['x-csrf-token'] = token;
  let body: BodyInit;
  if (item.blob) {
    body = item.blob;
    headers['content-type'] = item.blob.type || 'application/octet-stream';
    if (item.sha256) headers['x-content-sha256'] = item.sha256;
  } else {
    body = JSON.stringify(item.json ?? null);
    headers['content-type'] = 'application/json';
  }
  const abort = new AbortController();
  const timer = window.setTimeout(() => abort.abort(), item.blob ? PHOTO_TIMEOUT_MS : TIMEOUT_MS);
  try {
    const r = await fetch(item.url, { method: item.method ?? 'PUT', headers, body, credentials: 'same-origin', cache: 'no-store', signal: abort.signal });
    const text = await r.text();
    if (r.ok) return { ok: true, status: r.status, replayed: r.headers.get('idempotent-replayed') === 'true' };
    // An expired session: the queue stays (it is kept per account in IndexedDB) while the
    // app asks the user to sign in again; after that the same account's queue resumes.
    if (r.status === 401) sessionEnded();
    let message = `HTTP ${r.status}`;
    try {
      const b = JSON.parse(text) as { message?: unknown; error?: unknown; items?: { message?: string }[] };
      if (typeof b.message === 'string') message = b.message;
      const first = b.items?.[0]?.message;
      if (first) message += `: ${first}`;
    } catch {
      // not JSON
    }
    return { ok: false, retry: retryable(r.status), status: r.status, message };
  } catch (e) {
    return { ok: false, retry: true, status: 0, message: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** The queue of one account, its sending loop and what the UI shows of it. */
export class Outbox {
  /** The items (this account's, in order) and the latest acknowledged ones, as last read. */
  items: Item[] = [];
  sent: Sent[] = [];
  /** The item being sent now. */
  sending: number | null = null;
  online = navigator.onLine;
  /** Items of other accounts waiting on this phone (sent when they sign in). */
  others = 0;
  /** Why the phone's storage (IndexedDB) cannot be used, if it cannot. */
  storageError: string | null = null;
  private readonly changes = new Listeners();
  private running: Promise<PassResult> | null = null;
  private again = false;

  constructor(readonly user: string) {
    window.addEventListener('online', () => {
      this.online = true;
      void this.retryNow();
    });
    window.addEventListener('offline', () => {
      this.online = false;
      this.changed();
    });
    window.setInterval(() => void this.tick(), TICK_MS);
    this.refresh()
      .then(() => this.sync())
      .catch((e: unknown) => {
        this.storageError = e instanceof Error ? e.message : String(e);
        this.changed();
      });
  }

  onChange(f: () => void): void {
    this.changes.add(f);
  }

  private changed(): void {
    this.changes.call();
  }

  /** Reads the queue and the log again and tells the listeners. */
  async refresh(): Promise<void> {
    const [items, sent] = await tx(['queue', 'sent'], 'readonly', async (t) => [await all<Item>(t, 'queue'), await all<Sent>(t, 'sent')] as const);
    this.items = items.filter((i) => i.user === this.user);
    this.others = items.length - this.items.length;
    this.sent = sent.filter((s) => s.user === this.user).reverse();
    this.changed();
  }

  /** Counts for the badge. */
  counts(): { pending: number; failed: number; sent: number } {
    const failed = this.items.filter((i) => i.status === 'failed').length;
    return { pending: this.items.length - failed, failed, sent: this.sent.length };
  }

  /** Adds items inside a transaction of the caller (which must cover `queue`). */
  static async putIn(t: IDBTransaction, items: Item[]): Promise<void> {
    for (const i of items) await put(t, 'queue', i);
  }

  /** A new item of this account. */
  item(kind: Kind, url: string, ref: string, label: Label, body: { json?: unknown; blob?: Blob; sha256?: string | null; method?: 'PUT' | 'POST' }): Item {
    return { user: this.user, kind, url, ref, label, status: 'pending', attempts: 0, nextAt: 0, created: Date.now(), ...body };
  }

  /** Queues items and starts sending. */
  async add(items: Item[]): Promise<void> {
    await tx(['queue'], 'readwrite', (t) => Outbox.putIn(t, items));
    await this.refresh();
    void this.sync();
  }

  /** Puts copies of items back in the queue as new (what a phone does that lost its
   * acknowledgements); the server must answer each as a repeat. */
  async restore(items: Item[]): Promise<void> {
    const copies = items.map(({ seq: _seq, ...rest }) => ({ ...rest, status: 'pending' as const, attempts: 0, nextAt: 0 }));
    await this.add(copies);
  }

  /** Sends a failed item again (or, with none, every waiting one) without waiting. */
  async retryNow(seq?: number): Promise<void> {
    await tx(['queue'], 'readwrite', async (t) => {
      for (const i of await all<Item>(t, 'queue')) {
        if (i.user !== this.user || (seq !== undefined && i.seq !== seq)) continue;
        if (seq === undefined && i.status === 'failed') continue;
        await put(t, 'queue', { ...i, status: 'pending', nextAt: 0 });
      }
    });
    await this.refresh();
    await this.sync();
  }

  /** Drops a failed item for good. */
  async discard(seq: number): Promise<void> {
    await tx(['queue'], 'readwrite', (t) => del(t, 'queue', seq));
    await this.refresh();
  }

  private async tick(): Promise<void> {
    if (!navigator.onLine || this.running) return;
    const now = Date.now();
    if (this.items.some((i) => i.status === 'pending' && i.nextAt <= now)) await this.sync();
  }

  /** One pass over the queue (joined by callers while it runs; a call during a pass
   * makes another pass follow). */
  sync(): Promise<PassResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<PassResult> => {
      let r: PassResult;
      do {
        this.again = false;
        r = await this.locked();
      } while (this.again && !r.blocked);
      return r;
    };
    this.running = run().finally(() => {
      this.running = null;
      this.sending = null;
      this.changed();
    });
    return this.running;
  }

  /** A pass under a Web Lock where there is one, so that two tabs do not send at once. */
  private locked(): Promise<PassResult> {
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    if (locks) return locks.request(`wangge-outbox-${this.user}`, () => this.pass()) as unknown as Promise<PassResult>;
    return this.pass();
  }

  private async pass(): Promise<PassResult> {
    const out: PassResult = { sent: 0, failed: 0, blocked: false };
    if (!navigator.onLine) {
      out.blocked = true;
      return out;
    }
    const queue = await tx(['queue'], 'readonly', (t) => all<Item>(t, 'queue'));
    for (const item of queue) {
      if (item.user !== this.user || item.status === 'failed') continue;
      if (item.nextAt > Date.now()) {
        out.blocked = true;
        break;
      }
      this.sending = item.seq ?? null;
      this.changed();
      const r = await send(item);
      if (r.ok) {
        const entry: Sent = {
          user: item.user,
          kind: item.kind,
          url: item.url,
          label: item.label,
          ref: item.ref,
          status: r.status,
          replayed: r.replayed,
          attempts: item.attempts + 1,
          created: item.created,
          at: Date.now(),
        };
        await tx(['queue', 'sent'], 'readwrite', async (t) => {
          await del(t, 'queue', item.seq!);
          await put(t, 'sent', entry);
          // Keep the log short.
          let n = await count(t, 'sent');
          if (n > SENT_KEPT) {
            for (const old of await all<Sent>(t, 'sent')) {
              if (n-- <= SENT_KEPT) break;
              await del(t, 'sent', old.seq!);
            }
          }
        });
        out.sent++;
      } else {
        const attempts = item.attempts + 1;
        const next: Item = {
          ...item,
          attempts,
          httpStatus: r.status,
          error: r.message,
          status: r.retry ? 'pending' : 'failed',
          nextAt: r.retry ? Date.now() + backoff(attempts) : 0,
        };
        await tx(['queue'], 'readwrite', (t) => put(t, 'queue', next));
        if (r.retry) {
          out.blocked = true;
          await this.refresh();
          break;
        }
        out.failed++;
      }
      await this.refresh();
    }
    this.sending = null;
    await this.refresh();
    return out;
  }
}
