// My incidents (我的事件) on the patrol phone: the open incidents assigned to the signed-in
// staff member (`GET /api/incidents?open=true&mine=true`) that are not yet resolved, kept in
// IndexedDB (`state` key `mine:{user}`, with a small thumbnail of each first photo) so the
// list opens without a connection; and the two steps the assignee takes on one, queued in
// the outbox like every other upload of patrol mode:
//
//   start:    POST /api/incidents/{id}/transitions {id, to: in_progress, from}
//   resolve:  PUT  /api/incidents/{id}/photos/{p}  the photo's bytes (each photo first), then
//             POST /api/incidents/{id}/transitions {id, to: resolved, from, note}
//
// `from` is the status the phone saw, its own queued start included, so a step on an
// incident the chief moved on meanwhile is refused (409) and shown, not applied late. What
// the phone shows of an incident is the server's status with the phone's steps applied:
// those acknowledged since the list was downloaded, then those still waiting.

import { get } from '../api';
import { onLang } from '../i18n';
import type { IncidentRow } from '../incidents/open';
import { Listeners } from '../listeners';
import { categoryName } from './categories';
import { readState, writeState } from './db';
import { sha256, uuid } from './ids';
import type { Item, Outbox, Sent } from './outbox';
import { thumbnail } from './photo';

/** One of my incidents as kept on the phone. */
export interface MyIncident extends IncidentRow {
  /** A small JPEG of its first photo, when it has one the phone could read. */
  thumb?: Blob | null;
}

/** The list as kept in IndexedDB. */
interface Kept {
  /** When it was downloaded (ms since 1970). */
  at: number;
  rows: MyIncident[];
}

/** The statuses in which the assignee still has work to do. */
const MINE = ['assigned', 'in_progress'];
/** The steps the phone queues and the status each leads to. */
const STEP_TO: Partial<Record<Item['kind'], string>> = { start: 'in_progress', resolve: 'resolved' };
const URL = '/api/incidents?open=true&mine=true&limit=10000';

/** What the phone knows of one of its incidents beyond the server's row. */
export interface Seen {
  /** The status with the phone's steps applied. */
  status: string;
  /** Its uploads waiting to be sent. */
  pending: Item[];
  /** Its uploads the server refused (409: the incident moved on). */
  failed: Item[];
}

/** My incidents: the list, where it came from, and the steps taken on them. */
export class MyIncidents {
  rows: MyIncident[] = [];
  /** When the list shown was downloaded (null: never). */
  at: number | null = null;
  /** Whether the list shown is the kept copy (the download failed). */
  stale = false;
  private readonly changes = new Listeners();
  private loading: Promise<void> | null = null;
  /** Whether another download was asked for while one ran. */
  private again = false;
  /** Steps acknowledged so far, to download the list again after each. */
  private acked = 0;

  constructor(private readonly outbox: Outbox) {
    outbox.onChange(() => {
      const n = outbox.sent.filter((s) => STEP_TO[s.kind]).length;
      if (n !== this.acked) {
        this.acked = n;
        void this.load();
      }
      this.changed();
    });
    window.addEventListener('online', () => void this.load());
    onLang(() => this.changed());
  }

  onChange(f: () => void): void {
    this.changes.add(f);
  }

  private changed(): void {
    this.changes.call();
  }

  private get key(): string {
    return `mine:${this.outbox.user}`;
  }

  /** Shows the kept list, then downloads it again (kept for next time); offline, the kept
   * list stays. A call made while one runs makes another follow it (a step acknowledged
   * meanwhile is then in the list). */
  load(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const run = async () => {
      do {
        this.again = false;
        await this.fetch();
      } while (this.again);
    };
    this.loading = run().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async fetch(): Promise<void> {
    const kept = await readState<Kept>(this.key).catch(() => undefined);
    if (kept && this.at === null) {
      this.rows = kept.rows;
      this.at = kept.at;
      this.stale = true;
      this.changed();
    }
    if (!navigator.onLine) {
      this.stale = true;
      this.changed();
      return;
    }
    try {
      const at = Date.now();
      const fc = await get<{ features: { properties: IncidentRow }[] }>(URL);
      const before = new Map(this.rows.map((r) => [r.id, r]));
      const rows: MyIncident[] = [];
      for (const f of fc.features) {
        const r = f.properties;
        if (!MINE.includes(r.status)) continue;
        const old = before.get(r.id);
        rows.push({ ...r, thumb: old && old.photo === r.photo ? old.thumb : await this.thumbOf(r) });
      }
      // One the phone still has uploads for (waiting, or refused and not yet dismissed)
      // stays, even when the server lists it no more (the chief closed it meanwhile).
      for (const old of before.values()) {
        if (!rows.some((r) => r.id === old.id) && this.outbox.items.some((i) => i.ref === old.id)) rows.push(old);
      }
      rows.sort((a, b) => (a.due_at ?? '9').localeCompare(b.due_at ?? '9') || a.reported_at.localeCompare(b.reported_at));
      await writeState(this.key, { at, rows } satisfies Kept);
      this.rows = rows;
      this.at = at;
      this.stale = false;
    } catch {
      this.stale = true;
    }
    this.changed();
  }

  /** A thumbnail of an incident's first photo (null without one, or when it cannot be read). */
  private async thumbOf(r: IncidentRow): Promise<Blob | null> {
    if (!r.photo) return null;
    try {
      const res = await fetch(`/api/incidents/${encodeURIComponent(r.id)}/photos/${encodeURIComponent(r.photo)}`, { credentials: 'same-origin' });
      return res.ok ? await thumbnail(await res.blob()) : null;
    } catch {
      return null;
    }
  }

  /** What the phone knows of an incident: the status after its own steps, its uploads. */
  seen(r: IncidentRow): Seen {
    let status = r.status;
    const since = this.at ?? 0;
    // Acknowledged after the download (the list is fetched again, this bridges the gap),
    // oldest first; then the waiting ones in the order they were made.
    const acked = this.outbox.sent.filter((s: Sent) => s.ref === r.id && s.at >= since && STEP_TO[s.kind]).reverse();
    for (const s of acked) status = STEP_TO[s.kind] ?? status;
    const mine = this.outbox.items.filter((i) => i.ref === r.id && (STEP_TO[i.kind] || i.kind === 'resolve_photo'));
    const pending = mine.filter((i) => i.status === 'pending');
    for (const i of pending) status = STEP_TO[i.kind] ?? status;
    return { status, pending, failed: mine.filter((i) => i.status === 'failed') };
  }

  /** The incidents with work left (those resolved on the phone and waiting count as done). */
  count(): number {
    return this.rows.filter((r) => this.seen(r).status !== 'resolved').length;
  }

  private what(r: IncidentRow): string {
    return `${categoryName(r.category)} ${r.description.slice(0, 16)}`;
  }

  /** Queues "start" (assigned → in progress). */
  async start(r: IncidentRow): Promise<void> {
    const from = this.seen(r).status;
    await this.outbox.add([this.step(r, 'start', 'in_progress', from)]);
  }

  /** Queues the photos, then "resolve" (in progress → resolved) with the note. */
  async resolve(r: IncidentRow, note: string, photos: Blob[]): Promise<void> {
    const from = this.seen(r).status;
    const id = encodeURIComponent(r.id);
    const items: Item[] = [];
    for (const blob of photos) {
      items.push(
        this.outbox.item('resolve_photo', `/api/incidents/${id}/photos/${uuid()}`, r.id, { key: 'q_resolve_photo', vars: { kb: Math.ceil(blob.size / 1024), what: this.what(r) } }, { blob, sha256: await sha256(blob) }),
      );
    }
    items.push(this.step(r, 'resolve', 'resolved', from, note));
    await this.outbox.add(items);
  }

  private step(r: IncidentRow, kind: 'start' | 'resolve', to: string, from: string, note?: string): Item {
    return this.outbox.item(kind, `/api/incidents/${encodeURIComponent(r.id)}/transitions`, r.id, { key: kind === 'start' ? 'q_start' : 'q_resolve', vars: { what: this.what(r) } }, {
      method: 'POST',
      json: { id: uuid(), to, from, ...(note ? { note } : {}) },
    });
  }

  /** Drops the refused uploads of an incident (the user has read why) and downloads the
   * list again, to show the incident as it is now. */
  async dismiss(r: IncidentRow): Promise<void> {
    for (const i of this.seen(r).failed) if (i.seq !== undefined) await this.outbox.discard(i.seq);
    await this.load();
  }
}
