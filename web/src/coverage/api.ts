// The coverage routes of the server (src/http/coverage.rs): request shapes, response types,
// and the query string of a setting.
import { get, request, type Fc } from '../api';

/** The "1+8" kinds (src/domain/stations.rs, `ONE_PLUS_EIGHT`). */
export const ONE_PLUS_EIGHT = [
  'party_mass_centre',
  'convenience',
  'new_resident_training',
  'elderly_care',
  'youth',
  'hardship_relief',
  'volunteer',
  'culture',
  'social_org_incubation',
] as const;

/** What the planner asks: which kinds count and how far residents walk. */
export interface Setting {
  mode: 'one' | 'any' | 'all';
  /** The kind when `mode` is `one`. */
  kind: string;
  /** The kinds when `mode` is `any` or `all`. */
  kinds: string[];
  minutes: number;
  /** Metres per minute; null: the server's default (GB 50180 for 5/10/15 minutes). */
  speed: number | null;
  /** A community code, or null for everything the account sees. */
  community: string | null;
}

/** The kinds a setting counts. */
export function kindsOf(s: Setting): string[] {
  return s.mode === 'one' ? [s.kind] : s.kinds;
}

/** The fields shared by the GET query and the POST bodies. */
export function settingFields(s: Setting): Record<string, string | number> {
  const f: Record<string, string | number> = {};
  if (s.mode === 'one') f.kind = s.kind;
  else {
    f.kinds = s.kinds.join(',');
    f.mode = s.mode;
  }
  f.minutes = s.minutes;
  if (s.speed !== null) f.speed = s.speed;
  if (s.community) f.community = s.community;
  return f;
}

/** `kind=..&minutes=..` for a setting. */
export function queryOf(s: Setting): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(settingFields(s))) q.set(k, String(v));
  return q.toString();
}

/** Totals of a group (the whole area, a community or a grid). */
export interface Totals {
  buildings: number;
  buildings_covered: number;
  residents: number;
  residents_covered: number;
  residents_pct: number | null;
  households: number;
  households_covered: number;
  households_pct: number | null;
}

export interface Named extends Totals {
  code: string;
  name: string;
}

/** The grouped figures of `GET /api/coverage` and a scenario's `after_detail`. */
export interface Grouped {
  totals: Totals;
  communities: Named[];
  grids1: Named[];
  grids2: Named[];
  /** Past a thousand grids of a level (a city seen whole) the level is left out: choose a
   * community to see its grids. */
  grids1_omitted?: boolean;
  grids2_omitted?: boolean;
  grids2_count?: number;
}

export interface SettingEcho {
  kinds: string[];
  mode: 'any' | 'all';
  minutes: number;
  speed_m_per_min: number;
  cutoff_m: number;
}

/** `GET /api/coverage`. */
export interface CoverageReply extends Grouped {
  /** The uncovered buildings, at most a few thousand (`uncovered_total` says how many). */
  uncovered: Fc;
  uncovered_total?: number;
  setting: SettingEcho;
  elapsed_ms: number;
}

/** One what-if change (the body of `POST /api/coverage/scenario`). */
export type Change =
  | { op: 'add'; kind: string; lon: number; lat: number; code: string; name?: string }
  | { op: 'move'; code: string; lon: number; lat: number }
  | { op: 'remove'; code: string };

/** `POST /api/coverage/scenario`. */
export interface ScenarioReply {
  setting: SettingEcho;
  before: Totals;
  after: Totals;
  change: { residents_covered: number; households_covered: number };
  grids: { code: string; residents_covered_before: number; residents_covered_after: number; residents: number }[];
  communities: { code: string; residents_covered_before: number; residents_covered_after: number; residents: number }[];
  newly_covered: string[];
  newly_uncovered: string[];
  after_detail: Grouped;
  compute_ms: number;
}

export interface Pick {
  lon: number;
  lat: number;
  candidate: number;
  gain_residents: number;
  gain_households: number;
  gain_buildings: number;
}

/** `POST /api/coverage/siting`. */
export interface SitingReply {
  kind: string;
  k: number;
  cutoff_m: number;
  candidates: number;
  picks: Pick[];
  residents_covered_before: number;
  residents_covered_after: number;
  residents_total: number;
  elapsed_ms: number;
}

export function coverage(s: Setting, signal?: AbortSignal): Promise<CoverageReply> {
  return get<CoverageReply>(`/api/coverage?${queryOf(s)}`, signal);
}

export async function scenario(s: Setting, changes: Change[], signal?: AbortSignal): Promise<ScenarioReply> {
  const r = await request<ScenarioReply>('/api/coverage/scenario', { method: 'POST', body: { ...settingFields(s), changes }, ...(signal ? { signal } : {}) });
  return r.data;
}

export async function saveScenario(s: Setting, changes: Change[]): Promise<{ saved: number; stations: string[] }> {
  const r = await request<{ saved: number; stations: string[] }>('/api/coverage/scenario/save', { method: 'POST', body: { ...settingFields(s), changes } });
  return r.data;
}

export async function siting(s: Setting, kind: string, k: number): Promise<SitingReply> {
  const body: Record<string, unknown> = { kind, k, minutes: s.minutes, candidates: 'nodes' };
  if (s.speed !== null) body.speed = s.speed;
  if (s.community) body.community = s.community;
  return (await request<SitingReply>('/api/coverage/siting', { method: 'POST', body })).data;
}

/** `GET /api/coverage/isochrone`: the area walkable from a station (a polygon Feature), or
 * from a point (`at`: where the scenario puts a new or moved station). */
export function isochrone(code: string, s: Setting, at?: [number, number]): Promise<Fc['features'][number]> {
  const q = new URLSearchParams(at ? { lon: String(at[0]), lat: String(at[1]) } : { station: code });
  q.set('minutes', String(s.minutes));
  if (s.speed !== null) q.set('speed', String(s.speed));
  return get<Fc['features'][number]>(`/api/coverage/isochrone?${q}`);
}

/** The report's download URL: the report for people in the interface's language (a title
 * row, named columns and a file name saying what it is; see src/http/coverage/report.rs). */
export function reportUrl(s: Setting, format: 'csv' | 'xlsx', language: 'zh' | 'en'): string {
  return `/api/coverage/report?format=${format}&lang=${language}&${queryOf(s)}`;
}
