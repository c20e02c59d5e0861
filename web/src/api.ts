// The server's HTTP API: one fetch wrapper (session cookie, CSRF header, JSON errors), the
// response shapes the app reads, and a small cache of GeoJSON downloads shared by the map
// layers and the search box.

import type { FeatureCollection, Feature, Geometry } from 'geojson';
import { Listeners } from './listeners';

/** Areas of `GET /api/auth/me` → `permissions` (see src/domain/access.rs on the server). */
export type Area =
  | 'map'
  | 'boundaries'
  | 'people'
  | 'staff'
  | 'stations'
  | 'coverage'
  | 'accounts'
  | 'audit'
  | 'patrols'
  | 'incidents'
  | 'party'
  | 'assessment';
export type Action = 'read' | 'write';

/** The signed-in account (`GET /api/auth/me`). */
export interface Me {
  username: string;
  display_name: string;
  role: 'admin' | 'planner' | 'grid_chief' | 'patrol' | 'viewer';
  scope: { kind: string; region: string; communities: string[]; grids: string[] };
  /** `[west, south, east, north]` of the account's scope; null when it holds nothing. */
  bbox: [number, number, number, number] | null;
  permissions: Partial<Record<Area, Action[]>>;
}

/** Whether an account may do `action` on `area`. */
export function can(me: Me, area: Area, action: Action): boolean {
  return me.permissions[area]?.includes(action) ?? false;
}

export type Props = Record<string, unknown>;
export type Fc = FeatureCollection<Geometry, Props>;
export type Feat = Feature<Geometry, Props>;

/** A failed request: the server's `{error, message, ...}` body and status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

let csrf: string | null = null;

/** Remembers the CSRF token returned by sign-in (the `wangge_csrf` cookie holds it too). */
export function setCsrf(token: string | null): void {
  csrf = token;
}

/** The session's CSRF token, for requests made outside [`request`] (the patrol outbox). */
export function csrfToken(): string | null {
  if (csrf) return csrf;
  const m = document.cookie.match(/(?:^|;\s*)wangge_csrf=([^;]+)/);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

/** Listeners told when the session is gone (a 401 from any request). */
const signedOut = new Listeners();
export function onSignedOut(f: () => void): void {
  signedOut.add(f);
}
/** Tells the listeners that the server no longer knows this session (for callers that use
 * `fetch` themselves, like the patrol outbox). */
export function sessionEnded(): void {
  signedOut.call();
}

export interface Reply<T> {
  data: T;
  etag: string | null;
  status: number;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  ifMatch?: string;
  signal?: AbortSignal;
}

/** Calls the API. Non-GET requests carry the CSRF header; errors become [`ApiError`]. */
export async function request<T>(path: string, o: RequestOptions = {}): Promise<Reply<T>> {
  const method = o.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') {
    const t = csrfToken();
    if (t) headers['x-csrf-token'] = t;
  }
  if (o.ifMatch) headers['if-match'] = o.ifMatch;
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (o.body !== undefined) init.body = JSON.stringify(o.body);
  if (o.signal) init.signal = o.signal;
  const r = await fetch(path, init);
  const text = await r.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!r.ok) {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const err = new ApiError(
      r.status,
      typeof b.error === 'string' ? b.error : `http_${r.status}`,
      typeof b.message === 'string' ? b.message : `${method} ${path}: HTTP ${r.status}`,
      b,
    );
    if (r.status === 401 && path !== '/api/auth/login') sessionEnded();
    throw err;
  }
  return { data: body as T, etag: r.headers.get('etag'), status: r.status };
}

/** GET returning only the body. */
export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request<T>(path, signal ? { signal } : {})).data;
}

/** The API's list URLs. Map layers and search both use these strings, so a GeoJSON layer
 * and the search box share one download. `{bbox}` is replaced by the scope's box. */
export const URLS = {
  communities: '/api/communities',
  grids1: '/api/grids?level=1',
  grids2: '/api/grids?level=2',
  buildings: '/api/buildings?bbox={bbox}',
  stations: '/api/stations?bbox={bbox}',
  streets: '/api/streets?bbox={bbox}',
} as const;

const cache = new Map<string, Promise<Fc>>();

/** Downloads a FeatureCollection once; later callers share the same promise until
 * [`invalidate`] is called. */
export function cachedCollection(url: string): Promise<Fc> {
  return getOnce(cache, url);
}

/** `get(url)` asked once while `kept` holds its answer; a failed one is forgotten, so that
 * the next caller asks again. */
export function getOnce<T>(kept: Map<string, Promise<T>>, url: string): Promise<T> {
  let p = kept.get(url);
  if (!p) {
    p = get<T>(url);
    kept.set(url, p);
    p.catch(() => kept.delete(url));
  }
  return p;
}

/** Forgets cached downloads whose URL starts with one of the prefixes (all when none). */
export function invalidate(...prefixes: string[]): void {
  for (const k of [...cache.keys()]) {
    if (prefixes.length === 0 || prefixes.some((p) => k.startsWith(p))) cache.delete(k);
  }
}

/** `GET /api/grids/{code}`: properties of the detailed grid view. */
export interface GridDetail extends Props {
  code: string;
  name: string;
  level: 1 | 2;
  parent_code: string | null;
  community_code: string | null;
  community_name?: string | null;
  version: number;
  households: number;
  residents: number;
  party_members?: number;
  party_organisation?: string;
  buildings: number;
  employees?: number;
  area_m2?: number;
  chief: string | null;
  /** `phone` (personal) only for accounts that see the grid in full. */
  staff?: { code: string; name: string; duty_phone: string | null; phone?: string | null; role: string }[];
  children?: string[];
  valid_from?: string;
}

/** A `partition_violation` fault (a feature of the 422 body's `faults`). */
export interface FaultProps extends Props {
  /** `invalid` marks the position of an invalid geometry (drawn by the editor only). */
  kind: 'gap' | 'overlap' | 'outside' | 'invalid';
  parent_code: string;
  grids: string[];
  area_m2: number;
  /** A point on the fault itself, where the map marks it. */
  at?: [number, number] | null;
}
