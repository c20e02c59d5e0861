// The week the week view shows (ISO weeks in Asia/Shanghai, as the server counts them),
// and the downloads its layers and panels share: the compliance report, the week's tracks
// and incidents.

import { cachedCollection, get, URLS, type Fc, type Props } from '../api';
import { Listeners } from '../listeners';

const DAY = 86_400_000;
/** Shanghai is UTC+8 all year. */
const SHANGHAI = 8 * 3_600_000;

const pad = (n: number) => String(n).padStart(2, '0');

/** The ISO week (`2024-W10`) of an instant, in Shanghai time. */
export function isoWeek(ms: number): string {
  const d = new Date(ms + SHANGHAI);
  const day = (d.getUTCDay() + 6) % 7;
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY));
  return `${year}-W${pad(week)}`;
}

/** The first instant of an ISO week: Monday 00:00 in Shanghai. */
export function weekStart(w: string): number {
  const m = /^(\d{4})-W(\d{2})$/.exec(w);
  if (!m) throw new Error(`not an ISO week: ${w}`);
  const year = Number(m[1]);
  const jan4 = Date.UTC(year, 0, 4);
  const monday1 = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY;
  return monday1 + (Number(m[2]) - 1) * 7 * DAY - SHANGHAI;
}

/** The week `n` weeks after `w` (before, for negative `n`). */
export function shiftWeek(w: string, n: number): string {
  return isoWeek(weekStart(w) + n * 7 * DAY + DAY / 2);
}

/** Monday and Sunday of a week as `M/D` (Shanghai dates). */
export function weekDays(w: string): [string, string] {
  const f = (ms: number) => {
    const d = new Date(ms + SHANGHAI);
    return `${d.getUTCMonth() + 1}/${d.getUTCDate()}`;
  };
  const s = weekStart(w);
  return [f(s), f(s + 6 * DAY)];
}

let selected = isoWeek(Date.now());
const changes = new Listeners();

/** The week shown. */
export function week(): string {
  return selected;
}

/** Shows another week (listeners reload their layers). */
export function setWeek(w: string): void {
  if (w === selected) return;
  selected = w;
  forget();
  changes.call();
}

export function onWeek(f: () => void): void {
  changes.add(f);
}

/** A grid's week as `GET /api/compliance` reports it. */
export interface GridWeek {
  week: string;
  grid: string;
  name: string;
  community: string;
  community_name: string;
  chief: string | null;
  status: 'patrolled' | 'due' | 'overdue' | 'upcoming';
  patrolled: boolean;
  patrolled_by: string[];
  patrols: { id: string; by: string; staff_code: string | null; started_at: string; ended_at: string | null; length_inside_m: number; share_inside: number; counts: boolean }[];
  track_length_inside_m: number;
  street_length_m: number | null;
  street_covered_m: number | null;
  street_coverage: number | null;
  households: number;
  households_visited: number;
  household_coverage: number | null;
  household_full_marks: boolean;
  incidents_found: number;
}

export interface Compliance {
  from: string;
  to: string;
  rules: { min_share_inside: number; street_buffer_m: number; household_full_marks: number };
  totals: {
    grid_weeks: number;
    patrolled: number;
    overdue: number;
    patrol_rate: number | null;
    track_length_inside_m: number;
    households: number;
    households_visited: number;
    household_coverage: number | null;
    full_marks: number;
    incidents_found: number;
  };
  grids: GridWeek[];
  /** The totals per community. */
  communities?: { code: string; name: string; totals: Compliance['totals'] }[];
  /** Over the server's bound the rows are left out (a city): ask per community. */
  grids_omitted?: boolean;
  /** For one week, each grid's shade by code. */
  shades?: Record<string, Shade> | null;
}

/** How the map colours a grid's week: patrolled; partly (walked, but too little of the
 * walk inside the grid for it to count); or the server's due / overdue / upcoming. */
export type Shade = 'patrolled' | 'partly' | 'due' | 'overdue' | 'upcoming';

export function shade(g: GridWeek): Shade {
  if (g.patrolled) return 'patrolled';
  if (g.patrols.length > 0) return 'partly';
  return g.status;
}

export const SHADES: Shade[] = ['patrolled', 'partly', 'due', 'overdue', 'upcoming'];

export const SHADE_COLOUR: Record<Shade, string> = {
  patrolled: '#2e7d32',
  partly: '#f9a825',
  due: '#90a4ae',
  overdue: '#c62828',
  upcoming: '#cfd8dc',
};

const memo = new Map<string, Promise<unknown>>();

function once<T>(key: string, f: () => Promise<T>): Promise<T> {
  let p = memo.get(key) as Promise<T> | undefined;
  if (!p) {
    p = f();
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

/** Drops the week's downloads (another week, or fresh data wanted). */
export function forget(): void {
  memo.clear();
}

/** The community the week view is narrowed to (a city's zone lists communities first, and
 * a community's grids once one is chosen), or null for the caller's whole reach. */
let focus: string | null = null;

export function focused(): string | null {
  return focus;
}

/** Narrows the week view to a community (null: the whole reach); listeners reload. */
export function focusCommunity(code: string | null): void {
  if (code === focus) return;
  focus = code;
  forget();
  changes.call();
}

const inFocus = () => (focus ? `&community=${encodeURIComponent(focus)}` : '');

/** `GET /api/compliance?week=` of the shown week (and community). */
export function compliance(w = selected): Promise<Compliance> {
  return once(`compliance:${w}:${focus}`, () => get<Compliance>(`/api/compliance?week=${w}${inFocus()}`));
}

/** A community's colour in the week view from its totals: all patrolled, some overdue,
 * partly patrolled, or the status its grids share. */
export function communityShade(t: Compliance['totals']): Shade {
  if (t.grid_weeks > 0 && t.patrolled === t.grid_weeks) return 'patrolled';
  if (t.overdue > 0) return 'overdue';
  if (t.patrolled > 0) return 'partly';
  return 'due';
}

/** Second-level grids with their week: the compliance rows joined to the grids' shapes; on
 * a city's whole zone (rows left out by the server) its communities with their totals. */
export async function gridWeeks(w = selected): Promise<Fc> {
  // The communities' shapes are asked alongside the report, not after it (the zone's
  // compliance takes the server seconds on a city); a small zone's are a few kB.
  const shapes = focus ? null : cachedCollection(URLS.communities);
  const c = await compliance(w);
  if (c.grids_omitted) {
    const communities = await (shapes ?? cachedCollection(URLS.communities));
    return joinByCode(communities, c.communities ?? [], (x) => x.code, (x) => ({
      code: x.code,
      name: x.name,
      kind: 'community',
      week: w,
      week_status: communityShade(x.totals),
      patrolled: x.totals.patrolled,
      grid_weeks: x.totals.grid_weeks,
      households: x.totals.households,
      households_visited: x.totals.households_visited,
      incidents_found: x.totals.incidents_found,
    }));
  }
  const gridsUrl = focus ? `/api/grids?level=2&community=${encodeURIComponent(focus)}` : URLS.grids2;
  const grids = await cachedCollection(gridsUrl);
  return joinByCode(grids, c.grids, (r) => r.grid, (r) => ({
    code: r.grid,
    name: r.name,
    week: r.week,
    week_status: shade(r),
    patrolled_by: r.patrolled_by.join('、'),
    households: r.households,
    households_visited: r.households_visited,
    incidents_found: r.incidents_found,
  }));
}

/** The shapes that have a row (by their `code`), each with the properties made of its row. */
function joinByCode<R>(shapes: Fc, rows: R[], code: (r: R) => string, props: (r: R) => Props): Fc {
  const byCode = new Map(rows.map((r) => [code(r), r]));
  const features = shapes.features.flatMap((f) => {
    const r = byCode.get(String(f.properties.code));
    return r ? [{ ...f, properties: props(r) }] : [];
  });
  return { type: 'FeatureCollection', features };
}

/** `GET /api/patrols?week=`: the week's tracks (patrols without a whole track yet have no
 * line and are left out). */
export async function tracks(w = selected): Promise<Fc> {
  if (await wholeCity(w)) return EMPTY;
  const fc = await once(`patrols:${w}:${focus}`, () => get<Fc>(`/api/patrols?week=${w}${inFocus()}`));
  return withCode({ ...fc, features: fc.features.filter((f) => f.geometry !== null) });
}

const EMPTY: Fc = { type: 'FeatureCollection', features: [] };

/** Whether the view shows a city's whole zone by community (tracks and incidents then wait
 * for a community to be chosen). */
async function wholeCity(w: string): Promise<boolean> {
  return !focus && !!(await compliance(w)).grids_omitted;
}

/** Copies each feature's `id` to `code`, the property the map highlights by. */
function withCode(fc: Fc): Fc {
  return { ...fc, features: fc.features.map((f) => ({ ...f, properties: { ...f.properties, code: f.properties.id } })) };
}

/** `GET /api/incidents` reported in the week. */
export async function incidents(w = selected): Promise<Fc> {
  if (await wholeCity(w)) return EMPTY;
  const from = new Date(weekStart(w)).toISOString();
  const to = new Date(weekStart(w) + 7 * DAY - 1).toISOString();
  return once(`incidents:${w}:${focus}`, () => get<Fc>(`/api/incidents?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${inFocus()}`).then(withCode));
}
