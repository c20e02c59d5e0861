// The running patrol: its grids, its track from the browser's Geolocation API, the
// buildings visited and the incidents reported, all kept in IndexedDB so that a reload (or
// a crash of the browser) carries on where it was.
//
// What goes to the server, through the outbox, in this order:
//   PUT /api/patrols/{id}              {grids, started_at, crs: "wgs84"}      at the start
//   PUT /api/patrols/{id}/chunks/{n}   {id, crs, points}                      every CHUNK points
//   PUT /api/incidents/{id}            {category, description, lon, lat, ...} when reported
//   PUT /api/incidents/{id}/photos/{p} the photo's bytes                      after its incident
//   PUT /api/patrols/{id}/end          {ended_at, chunks, households, notes}  at the end
//                                      (households: [{building, households, doors?}])
// Browsers give WGS 84 positions, so every body says `crs: "wgs84"`. A chunk is cut from
// the buffer and queued in the same IndexedDB transaction that empties the buffer, so no
// point is lost or sent twice under different chunk numbers.

import { metres } from '../geo';
import { all, get, put, del, tx } from './db';
import { uuid } from './ids';
import { Outbox, type Item } from './outbox';
import type { KeyIn } from '../i18n';
import { Listeners } from '../listeners';

/** Points per chunk. */
export const CHUNK = 50;
/** A chunk is also cut when its first point is this old, so long patrols reach the server
 * in pieces while there is a connection. */
const CHUNK_AGE_MS = 5 * 60_000;
/** Fixes less accurate than this are shown but not recorded. */
export const MAX_ACCURACY_M = 100;
/** A fix is recorded when it moved this far from the last one... */
const MIN_MOVE_M = 2;
/** ... or this long after it. */
const MIN_INTERVAL_MS = 30_000;

/** A recorded position: WGS 84, time in ms since 1970, accuracy in metres. */
export interface Fix {
  lon: number;
  lat: number;
  t: number;
  accuracy_m: number | null;
}

export interface Visit {
  households: number;
  /** The households reached by label, when the form listed them (as many as `households`);
   * absent for a count only (a building whose doors the phone does not know). */
  doors?: string[];
  /** Households in the building, when known. */
  of?: number;
  name?: string;
  lon: number;
  lat: number;
}

/** The running patrol as stored (`state` key `running:{user}`). */
export interface Running {
  id: string;
  user: string;
  grids: string[];
  gridNames: string[];
  startedAt: string;
  /** Chunks queued so far (the next chunk's number). */
  nextSeq: number;
  /** Points not yet in a chunk. */
  buffer: Fix[];
  points: number;
  lengthM: number;
  last: Fix | null;
  visits: Record<string, Visit>;
  incidents: { id: string; lon: number; lat: number; category: string }[];
}

export interface IncidentInput {
  category: string;
  description: string;
  lon: number;
  lat: number;
  photos: { blob: Blob; sha256: string | null }[];
}

const runningKey = (user: string) => `running:${user}`;
const trackKey = (id: string) => `track:${id}`;

const round7 = (v: number) => Math.round(v * 1e7) / 1e7;

/** Why a fix was not recorded (or null when it was). */
export type Skip = 'inaccurate' | 'stale' | 'still' | 'idle' | null;

export class Recorder {
  running: Running | null = null;
  /** Points of chunks already cut (for drawing). */
  track: [number, number][] = [];
  /** The latest position the browser gave, recorded or not. */
  lastSeen: Fix | null = null;
  /** Why there is no position (a text key), if there is none. */
  geoError: KeyIn<'patrol'> | null = null;
  /** Why the latest position was not recorded (null when it was). */
  skipped: Skip = null;
  private watchId: number | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly changes = new Listeners();
  private wake: { release(): Promise<void> } | null = null;

  constructor(readonly outbox: Outbox) {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.running) void this.keepAwake();
    });
  }

  onChange(f: () => void): void {
    this.changes.add(f);
  }

  private changed(): void {
    this.changes.call();
  }

  /** Runs storage operations one after another. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Loads a patrol left running (after a reload) and resumes recording. */
  async resume(): Promise<boolean> {
    return this.serial(async () => {
      const user = this.outbox.user;
      const [r, track] = await tx(['state'], 'readonly', async (t) => {
        const run = (await get<{ value: Running }>(t, 'state', runningKey(user)))?.value;
        const line = run ? (await get<{ value: [number, number][] }>(t, 'state', trackKey(run.id)))?.value : undefined;
        return [run, line ?? []] as const;
      });
      if (!r) return false;
      this.running = r;
      this.track = [...track];
      this.watch();
      void this.keepAwake();
      this.changed();
      return true;
    });
  }

  /** Starts a patrol of `grids` and queues its start. */
  start(grids: string[], gridNames: string[]): Promise<Running> {
    return this.serial(async () => {
      if (this.running) return this.running;
      const r: Running = {
        id: uuid(),
        user: this.outbox.user,
        grids,
        gridNames,
        startedAt: new Date().toISOString(),
        nextSeq: 0,
        buffer: [],
        points: 0,
        lengthM: 0,
        last: null,
        visits: {},
        incidents: [],
      };
      const item = this.outbox.item('patrol', `/api/patrols/${r.id}`, r.id, { key: 'q_patrol', vars: { grids: gridNames.join('、') } }, {
        json: { grids, started_at: r.startedAt, crs: 'wgs84' },
      });
      await tx(['state', 'queue'], 'readwrite', async (t) => {
        await put(t, 'state', { key: runningKey(r.user), value: r });
        await put(t, 'state', { key: trackKey(r.id), value: [] });
        await Outbox.putIn(t, [item]);
      });
      this.running = r;
      this.track = [];
      this.watch();
      void this.keepAwake();
      this.changed();
      await this.outbox.refresh();
      void this.outbox.sync();
      return r;
    });
  }

  /** Follows the position while a patrol runs. */
  private watch(): void {
    if (this.watchId !== null || !('geolocation' in navigator)) {
      if (!('geolocation' in navigator)) this.geoError = 'no_geolocation';
      return;
    }
    this.watchId = navigator.geolocation.watchPosition(
      (p) => {
        this.geoError = null;
        void this.fix({
          lon: p.coords.longitude,
          lat: p.coords.latitude,
          t: Math.round(p.timestamp),
          accuracy_m: Number.isFinite(p.coords.accuracy) ? Math.round(p.coords.accuracy * 10) / 10 : null,
        });
      },
      (e) => {
        this.geoError = e.code === e.PERMISSION_DENIED ? 'geo_denied' : e.code === e.TIMEOUT ? 'geo_timeout' : 'geo_unavailable';
        this.changed();
      },
      { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 },
    );
  }

  private unwatch(): void {
    if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
  }

  private async keepAwake(): Promise<void> {
    const wl = (navigator as Navigator & { wakeLock?: { request(t: 'screen'): Promise<{ release(): Promise<void> }> } }).wakeLock;
    if (!wl || this.wake) return;
    try {
      this.wake = await wl.request('screen');
      (this.wake as unknown as EventTarget).addEventListener?.('release', () => {
        this.wake = null;
      });
    } catch {
      // not allowed now (page hidden); tried again when it shows
    }
  }

  /** Whether a fix would be recorded after `last`. */
  static skip(f: Fix, last: Fix | null, startedAt: number): Skip {
    if (f.accuracy_m !== null && f.accuracy_m > MAX_ACCURACY_M) return 'inaccurate';
    if (f.t < startedAt - 60_000) return 'stale';
    if (!last) return null;
    if (f.t <= last.t) return 'stale';
    const moved = metres([last.lon, last.lat], [f.lon, f.lat]);
    if (moved < MIN_MOVE_M && f.t - last.t < MIN_INTERVAL_MS) return 'still';
    return null;
  }

  /** Takes a position from the browser: records it, and cuts a chunk when one is full. */
  fix(raw: Fix): Promise<Skip> {
    this.lastSeen = raw;
    return this.serial(async () => {
      const r = this.running;
      if (!r) return 'idle';
      const f: Fix = { lon: round7(raw.lon), lat: round7(raw.lat), t: raw.t, accuracy_m: raw.accuracy_m };
      const why = Recorder.skip(f, r.last, Date.parse(r.startedAt));
      this.skipped = why;
      if (why) {
        this.changed();
        return why;
      }
      const next: Running = {
        ...r,
        buffer: [...r.buffer, f],
        points: r.points + 1,
        lengthM: r.lengthM + (r.last ? metres([r.last.lon, r.last.lat], [f.lon, f.lat]) : 0),
        last: f,
      };
      const first = next.buffer[0];
      const cut = next.buffer.length >= CHUNK || (first !== undefined && f.t - first.t >= CHUNK_AGE_MS);
      await this.save(next, cut);
      return null;
    });
  }

  /** Stores the running patrol; with `cut`, moves its buffer into a queued chunk in the
   * same transaction. */
  private async save(next: Running, cut: boolean): Promise<void> {
    let items: Item[] = [];
    let r = next;
    if (cut && r.buffer.length) {
      const seq = r.nextSeq;
      items = [
        this.outbox.item('chunk', `/api/patrols/${r.id}/chunks/${seq}`, r.id, { key: 'q_chunk', vars: { n: seq + 1, points: r.buffer.length } }, {
          json: { id: uuid(), crs: 'wgs84', points: r.buffer },
        }),
      ];
      r = { ...r, nextSeq: seq + 1, buffer: [] };
    }
    const appended = items.length ? [...this.track, ...next.buffer.map((p) => [p.lon, p.lat] as [number, number])] : null;
    await tx(['state', 'queue'], 'readwrite', async (t) => {
      await put(t, 'state', { key: runningKey(r.user), value: r });
      if (appended) await put(t, 'state', { key: trackKey(r.id), value: appended });
      await Outbox.putIn(t, items);
    });
    this.running = r;
    if (appended) this.track = appended;
    this.changed();
    if (items.length) {
      await this.outbox.refresh();
      void this.outbox.sync();
    }
  }

  /** Records households visited in a building (a second tap replaces the count). */
  visit(building: string, v: Visit): Promise<void> {
    return this.serial(async () => {
      const r = this.running;
      if (!r) return;
      await this.save({ ...r, visits: { ...r.visits, [building]: v } }, false);
    });
  }

  /** Removes a building from the visits. */
  unvisit(building: string): Promise<void> {
    return this.serial(async () => {
      const r = this.running;
      if (!r) return;
      const visits = { ...r.visits };
      delete visits[building];
      await this.save({ ...r, visits }, false);
    });
  }

  /** Queues an incident found on this patrol, then its photos. */
  incident(i: IncidentInput): Promise<string> {
    return this.serial(async () => {
      const r = this.running;
      const id = uuid();
      const items: Item[] = [
        this.outbox.item('incident', `/api/incidents/${id}`, id, { key: 'q_incident', vars: { what: i.description.slice(0, 24) } }, {
          json: {
            category: i.category,
            description: i.description,
            lon: round7(i.lon),
            lat: round7(i.lat),
            crs: 'wgs84',
            reported_at: new Date().toISOString(),
            ...(r ? { patrol_id: r.id } : {}),
          },
        }),
        ...i.photos.map((p, n) =>
          this.outbox.item('photo', `/api/incidents/${id}/photos/${uuid()}`, id, { key: 'q_photo', vars: { n: n + 1, kb: Math.ceil(p.blob.size / 1024) } }, {
            blob: p.blob,
            sha256: p.sha256,
          }),
        ),
      ];
      const next = r ? { ...r, incidents: [...r.incidents, { id, lon: i.lon, lat: i.lat, category: i.category }] } : null;
      await tx(['state', 'queue'], 'readwrite', async (t) => {
        if (next) await put(t, 'state', { key: runningKey(next.user), value: next });
        await Outbox.putIn(t, items);
      });
      if (next) this.running = next;
      this.changed();
      await this.outbox.refresh();
      void this.outbox.sync();
      return id;
    });
  }

  /** Ends the patrol: the last chunk, then the end with the households visited. */
  end(notes: string): Promise<Running | null> {
    return this.serial(async () => {
      const r = this.running;
      if (!r) return null;
      if (r.points === 0) throw new Error('no_points');
      const items: Item[] = [];
      let seq = r.nextSeq;
      if (r.buffer.length) {
        items.push(
          this.outbox.item('chunk', `/api/patrols/${r.id}/chunks/${seq}`, r.id, { key: 'q_chunk', vars: { n: seq + 1, points: r.buffer.length } }, {
            json: { id: uuid(), crs: 'wgs84', points: r.buffer },
          }),
        );
        seq++;
      }
      // Never before the last point, whatever the phone's clock did meanwhile.
      const endedAt = new Date(Math.max(Date.now(), r.last?.t ?? 0)).toISOString();
      const households = Object.entries(r.visits)
        .filter(([, v]) => v.households > 0)
        .map(([building, v]) => ({ building, households: v.households, ...(v.doors?.length ? { doors: v.doors } : {}) }));
      const note = notes.trim();
      items.push(
        this.outbox.item('end', `/api/patrols/${r.id}/end`, r.id, { key: 'q_end', vars: { chunks: seq, visits: households.length } }, {
          json: { ended_at: endedAt, chunks: seq, households, ...(note ? { notes: note } : {}) },
        }),
      );
      await tx(['state', 'queue'], 'readwrite', async (t) => {
        await del(t, 'state', runningKey(r.user));
        await del(t, 'state', trackKey(r.id));
        await put(t, 'state', { key: `last:${r.user}`, value: { ...r, buffer: [], nextSeq: seq, endedAt } });
        await Outbox.putIn(t, items);
      });
      // The queue is read back before the patrol reads as ended, so that whoever sees it
      // ended (the bar, the badge, a test) also sees its last chunk and its end queued.
      await this.outbox.refresh();
      this.stopRecording();
      this.changed();
      void this.outbox.sync();
      return r;
    });
  }

  /** Gives up a patrol without points: forgets it, and its start if that was never sent. */
  discard(): Promise<void> {
    return this.serial(async () => {
      const r = this.running;
      if (!r) return;
      await tx(['state', 'queue'], 'readwrite', async (t) => {
        await del(t, 'state', runningKey(r.user));
        await del(t, 'state', trackKey(r.id));
        for (const i of await all<Item>(t, 'queue')) if (i.ref === r.id && i.kind === 'patrol') await del(t, 'queue', i.seq!);
      });
      this.stopRecording();
      this.changed();
      await this.outbox.refresh();
    });
  }

  private stopRecording(): void {
    this.running = null;
    this.track = [];
    this.unwatch();
    void this.wake?.release().catch(() => undefined);
    this.wake = null;
  }

  /** The whole track so far (chunks cut and the buffer), for drawing. */
  line(): [number, number][] {
    const r = this.running;
    if (!r) return [];
    return [...this.track, ...r.buffer.map((p) => [p.lon, p.lat] as [number, number])];
  }
}
