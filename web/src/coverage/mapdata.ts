// The features of the coverage layers, built from the panel's state: grid shapes with their
// share covered, the uncovered buildings (and what a scenario changes), the scenario's
// stations and the proposed sites.
import type { Geometry } from 'geojson';
import { cachedCollection, URLS, type Fc, type Feat, type Me } from '../api';
import { num, t } from '../i18n';
import { expandUrl } from '../map/layers';
import type { CoverageReply, Named, ScenarioReply, SitingReply } from './api';
import { classOf } from './classes';

/** One change of the what-if scenario as the panel keeps it: the change sent to the server,
 * the station's kind and where it stood before (moves and removals). */
export interface PlanItem {
  op: 'add' | 'move' | 'remove';
  code: string;
  kind: string;
  name: string;
  at: [number, number];
  from?: [number, number];
}

const collection = (features: Feat[]): Fc => ({ type: 'FeatureCollection', features });

const point = (at: [number, number], props: Record<string, unknown>): Feat => ({
  type: 'Feature',
  geometry: { type: 'Point', coordinates: at },
  properties: props,
});

/** A point inside a polygon for its label: the middle of the widest stretch of the
 * horizontal line through the middle of its box (of its largest part), as geo's interior
 * point does on the server; a centroid falls outside an L-shaped grid. */
export function labelPoint(g: Geometry): [number, number] | null {
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  let best: { at: [number, number]; width: number } | null = null;
  for (const rings of polygons) {
    const ys = (rings[0] ?? []).map((p) => p[1] ?? 0);
    const y = (Math.min(...ys) + Math.max(...ys)) / 2;
    // Where the rings cross the line (an edge counts from its lower end up to, not
    // including, its upper end), in order: inside between each pair.
    const xs: number[] = [];
    for (const ring of rings) {
      ring.forEach((a, i) => {
        const b = ring[(i + 1) % ring.length]!;
        const [ax = 0, ay = 0] = a;
        const [bx = 0, by = 0] = b;
        if (ay <= y !== by <= y) xs.push(ax + ((y - ay) / (by - ay)) * (bx - ax));
      });
    }
    xs.sort((p, q) => p - q);
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const width = xs[i + 1]! - xs[i]!;
      if (!best || width > best.width) best = { at: [(xs[i]! + xs[i + 1]!) / 2, y], width };
    }
  }
  return best?.at ?? null;
}

/** Second-level grids with `pct`, `cls` and a label, from the figures shown (the scenario's
 * when there is one), and a point inside each carrying its label (drawn once, not once per
 * tile the shape is cut into). Grids without figures have no residents. With a community
 * chosen, only its grids' shapes are downloaded (a city's whole level is megabytes). With
 * `level` `community` (a city seen whole, whose grids the server leaves out) the communities
 * are coloured by their own figures instead. */
export async function gridFeatures(figures: Named[], community: string | null = null, level: 'grid' | 'community' = 'grid'): Promise<Fc> {
  const url = level === 'community' ? URLS.communities : community ? `${URLS.grids2}&community=${encodeURIComponent(community)}` : URLS.grids2;
  const shapes = await cachedCollection(url);
  const byCode = new Map(figures.map((g) => [g.code, g]));
  const grids: Feat[] = shapes.features.map((f) => {
    const code = String(f.properties.code);
    const g = byCode.get(code);
    const pct = g?.residents_pct ?? null;
    const name = String(f.properties.name ?? code);
    const label = `${name}\n${pct === null ? t('coverage.no_residents') : `${num(pct, 1)}%`}`;
    return {
      type: 'Feature',
      geometry: f.geometry,
      properties: { code, name, level, pct, cls: classOf(pct), label, residents: g?.residents ?? 0, residents_covered: g?.residents_covered ?? 0 },
    };
  });
  const labels = grids.flatMap((f) => {
    const at = labelPoint(f.geometry);
    return at ? [point(at, f.properties)] : [];
  });
  return collection([...grids, ...labels]);
}

/** The uncovered buildings (`state: uncovered`); with a scenario, those it newly covers
 * (`newly_covered`) and, from the buildings list, those it leaves uncovered. */
export async function gapFeatures(me: Me, base: CoverageReply, sc: ScenarioReply | null): Promise<Fc> {
  const newly = new Set(sc?.newly_covered ?? []);
  const out: Feat[] = base.uncovered.features.map((f) => ({
    ...f,
    properties: { ...f.properties, state: newly.has(String(f.properties.code)) ? 'newly_covered' : 'uncovered' },
  }));
  if (sc?.newly_uncovered.length) {
    const lost = new Set(sc.newly_uncovered);
    const all = await cachedCollection(expandUrl(URLS.buildings, me.bbox));
    for (const f of all.features) {
      if (lost.has(String(f.properties.code))) out.push({ ...f, properties: { ...f.properties, state: 'newly_uncovered' } });
    }
  }
  return collection(out);
}

/** The scenario's stations (with a dashed line for moves) and the numbered proposed sites. */
export function planFeatures(plan: PlanItem[], sites: SitingReply | null): Fc {
  const out: Feat[] = [];
  for (const p of plan) {
    const label = p.op === 'add' ? t('coverage.marker_new') : p.op === 'move' ? t('coverage.marker_moved') : '×';
    out.push(point(p.at, { code: p.code, kind: p.kind, role: p.op, label }));
    if (p.op === 'move' && p.from) {
      out.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: [p.from, p.at] }, properties: { code: `${p.code}-line`, role: 'move_line' } });
    }
  }
  (sites?.picks ?? []).forEach((s, i) => out.push(point([s.lon, s.lat], { code: `site-${i + 1}`, role: 'pick', label: String(i + 1), kind: sites!.kind })));
  return collection(out);
}
