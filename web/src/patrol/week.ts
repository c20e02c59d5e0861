// The week the week view shows (ISO weeks in Asia/Shanghai, as the server counts them),
// and the downloads its layers and panels share: the compliance report, the week's tracks
// and incidents.

import { cachedCollection, get, URLS, type Fc, type Props } from '../api';

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
const listeners = new Set<() => void>();

/** The week shown. */
export function week(): string {
  return selected;
}

/** Shows another week (listeners reload their layers). */
export function setWeek(w: string): void {
  if (w === selected) return;
  selected = w;
  forget();
  listeners.forEach((f) => f());
}

export function onWeek(f: () => void): void {
  listeners.add(f);
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

/** `GET /api/compliance?week=` of the shown week. */
export function compliance(w = selected): Promise<Compliance> {
  return once(`compliance:${w}`, () => get<Compliance>(`/api/compliance?week=${w}`));
}

/** Second-level grids with their week: the compliance rows joined to the grids' shapes. */
export async function gridWeeks(w = selected): Promise<Fc> {
  const [grids, c] = await Promise.all([cachedCollection(URLS.grids2), compliance(w)]);
  const rows = new Map(c.grids.map((g) => [g.grid, g]));
  const features = grids.features.flatMap((f) => {
    const r = rows.get(String(f.properties.code));
    if (!r) return [];
    const props: Props = {
      code: r.grid,
      name: r.name,
      week: r.week,
      week_status: shade(r),
      patrolled_by: r.patrolled_by.join('、'),
      households: r.households,
      households_visited: r.households_visited,
      incidents_found: r.incidents_found,
    };
    return [{ ...f, properties: props }];
  });
  return { type: 'FeatureCollection', features };
}

/** `GET /api/patrols?week=`: the week's tracks (patrols without a whole track yet have no
 * line and are left out). */
export async function tracks(w = selected): Promise<Fc> {
  const fc = await once(`patrols:${w}`, () => get<Fc>(`/api/patrols?week=${w}`));
  return withCode({ ...fc, features: fc.features.filter((f) => f.geometry !== null) });
}

/** Copies each feature's `id` to `code`, the property the map highlights by. */
function withCode(fc: Fc): Fc {
  return { ...fc, features: fc.features.map((f) => ({ ...f, properties: { ...f.properties, code: f.properties.id } })) };
}

/** `GET /api/incidents` reported in the week. */
export function incidents(w = selected): Promise<Fc> {
  const from = new Date(weekStart(w)).toISOString();
  const to = new Date(weekStart(w) + 7 * DAY - 1).toISOString();
  return once(`incidents:${w}`, () => get<Fc>(`/api/incidents?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`).then(withCode));
}
