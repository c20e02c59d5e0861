// The boundary editor's data: the grid being edited and the grids around it, as open rings
// of [lon, lat]. Vertices that several grids share (same coordinates) move, appear and
// disappear together in linked mode, so a neighbouring grid follows the edit and the
// partition stays whole. No MapLibre here: src/edit/editor.ts draws and drives this.

import type { Feature, MultiPolygon, Point, Position } from 'geojson';

/** Coordinates are kept to 7 decimals (about 1 cm), as the server stores them. */
const DIGITS = 7;

export function round(p: Position): Position {
  const k = 10 ** DIGITS;
  return [Math.round((p[0] ?? 0) * k) / k, Math.round((p[1] ?? 0) * k) / k];
}

/** The identity of a position: equal keys are the same (shared) vertex. */
export function keyOf(p: Position): string {
  return `${(p[0] ?? 0).toFixed(DIGITS)},${(p[1] ?? 0).toFixed(DIGITS)}`;
}

/** One grid in the editor. `polys[p][r]` is an open ring (no repeated last position). */
export interface Shape {
  code: string;
  name: string;
  level: number;
  version: number;
  polys: Position[][][];
  original: string;
}

/** Where one vertex sits. */
export interface VertexRef {
  code: string;
  poly: number;
  ring: number;
  index: number;
}

function open(ring: Position[]): Position[] {
  const r = ring.map(round);
  const first = r[0];
  const last = r[r.length - 1];
  if (r.length > 1 && first && last && keyOf(first) === keyOf(last)) r.pop();
  return r;
}

function closed(polys: Position[][][]): Position[][][] {
  return polys.map((p) => p.map((r) => (r.length ? [...r, r[0]!] : r)));
}

/** A grid's geometry as a MultiPolygon or Polygon → editor shape. */
export function shapeFrom(
  code: string,
  name: string,
  level: number,
  version: number,
  geometry: { type: string; coordinates: unknown },
): Shape {
  const polys: Position[][][] =
    geometry.type === 'Polygon'
      ? [(geometry.coordinates as Position[][]).map(open)]
      : (geometry.coordinates as Position[][][]).map((p) => p.map(open));
  return { code, name, level, version, polys, original: JSON.stringify(polys) };
}

export class EditModel {
  readonly shapes = new Map<string, Shape>();
  /** Move, insert and delete shared vertices in every grid that has them. */
  linked = true;
  private undoStack: string[] = [];

  constructor(
    readonly target: string,
    shapes: Shape[],
  ) {
    for (const s of shapes) this.shapes.set(s.code, s);
    if (!this.shapes.has(target)) throw new Error(`grid ${target} is not loaded`);
  }

  get targetShape(): Shape {
    return this.shapes.get(this.target)!;
  }

  /** Remembers the current state for [`undo`]. */
  checkpoint(): void {
    const snap: Record<string, Position[][][]> = {};
    for (const s of this.shapes.values()) snap[s.code] = s.polys;
    this.undoStack.push(JSON.stringify(snap));
    if (this.undoStack.length > 100) this.undoStack.shift();
  }

  undo(): boolean {
    const last = this.undoStack.pop();
    if (!last) return false;
    const snap = JSON.parse(last) as Record<string, Position[][][]>;
    for (const [code, polys] of Object.entries(snap)) {
      const s = this.shapes.get(code);
      if (s) s.polys = polys;
    }
    return true;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  /** Every place the vertex at `key` occurs: in all grids when linked, else in the target. */
  refs(key: string): VertexRef[] {
    const out: VertexRef[] = [];
    for (const s of this.shapes.values()) {
      if (!this.linked && s.code !== this.target) continue;
      s.polys.forEach((p, pi) =>
        p.forEach((r, ri) =>
          r.forEach((v, vi) => {
            if (keyOf(v) === key) out.push({ code: s.code, poly: pi, ring: ri, index: vi });
          }),
        ),
      );
    }
    return out;
  }

  /** Moves the given vertices to `to` (copying rings so undo snapshots stay intact). */
  move(refs: VertexRef[], to: Position): void {
    const p = round(to);
    for (const r of refs) {
      const s = this.shapes.get(r.code);
      const ring = s?.polys[r.poly]?.[r.ring];
      if (!s || !ring) continue;
      s.polys = s.polys.map((poly, pi) =>
        pi !== r.poly ? poly : poly.map((rg, ri) => (ri !== r.ring ? rg : rg.map((v, vi) => (vi === r.index ? p : v)))),
      );
    }
  }

  /** Inserts `at` into the target's edge after vertex `index` of ring (poly, ring); in
   * linked mode also into every other grid's ring that has the same edge (either way round). */
  insert(poly: number, ring: number, index: number, at: Position): string {
    const t = this.targetShape;
    const r = t.polys[poly]?.[ring];
    if (!r) throw new Error('no such ring');
    const a = r[index]!;
    const b = r[(index + 1) % r.length]!;
    const ka = keyOf(a);
    const kb = keyOf(b);
    const p = round(at);
    for (const s of this.shapes.values()) {
      if (s.code !== this.target && !this.linked) continue;
      s.polys = s.polys.map((pl, pi) =>
        pl.map((rg, ri) => {
          if (s.code === this.target && !(pi === poly && ri === ring)) return rg;
          for (let i = 0; i < rg.length; i++) {
            const k1 = keyOf(rg[i]!);
            const k2 = keyOf(rg[(i + 1) % rg.length]!);
            if ((k1 === ka && k2 === kb) || (k1 === kb && k2 === ka)) {
              return [...rg.slice(0, i + 1), p, ...rg.slice(i + 1)];
            }
          }
          return rg;
        }),
      );
    }
    return keyOf(p);
  }

  /** Removes the vertex at `key` (from every grid that shares it when linked). Refuses when
   * a ring would keep fewer than three vertices. */
  remove(key: string): boolean {
    const refs = this.refs(key);
    for (const r of refs) {
      const ring = this.shapes.get(r.code)?.polys[r.poly]?.[r.ring];
      if (!ring || ring.length <= 3) return false;
    }
    for (const s of this.shapes.values()) {
      if (!refs.some((r) => r.code === s.code)) continue;
      s.polys = s.polys.map((pl) => pl.map((rg) => rg.filter((v) => keyOf(v) !== key)));
    }
    return refs.length > 0;
  }

  /** The grids whose shape differs from what was loaded. */
  changed(): Shape[] {
    return [...this.shapes.values()].filter((s) => JSON.stringify(s.polys) !== s.original);
  }

  /** A shape as a closed GeoJSON MultiPolygon. */
  geometry(s: Shape): MultiPolygon {
    return { type: 'MultiPolygon', coordinates: closed(s.polys) };
  }

  /** The target's vertices, each with how many grids share it. */
  vertices(): Feature<Point, { key: string; shared: number; poly: number; ring: number; index: number }>[] {
    const counts = new Map<string, number>();
    for (const s of this.shapes.values()) {
      const seen = new Set<string>();
      s.polys.forEach((p) => p.forEach((r) => r.forEach((v) => seen.add(keyOf(v)))));
      seen.forEach((k) => counts.set(k, (counts.get(k) ?? 0) + 1));
    }
    const out: Feature<Point, { key: string; shared: number; poly: number; ring: number; index: number }>[] = [];
    this.targetShape.polys.forEach((p, pi) =>
      p.forEach((r, ri) =>
        r.forEach((v, vi) => {
          const key = keyOf(v);
          out.push({
            type: 'Feature',
            geometry: { type: 'Point', coordinates: v },
            properties: { key, shared: counts.get(key) ?? 1, poly: pi, ring: ri, index: vi },
          });
        }),
      ),
    );
    return out;
  }

  /** Midpoints of the target's edges: grabbing one inserts a vertex there. */
  midpoints(): Feature<Point, { poly: number; ring: number; index: number }>[] {
    const out: Feature<Point, { poly: number; ring: number; index: number }>[] = [];
    this.targetShape.polys.forEach((p, pi) =>
      p.forEach((r, ri) =>
        r.forEach((a, i) => {
          const b = r[(i + 1) % r.length]!;
          out.push({
            type: 'Feature',
            geometry: { type: 'Point', coordinates: [((a[0] ?? 0) + (b[0] ?? 0)) / 2, ((a[1] ?? 0) + (b[1] ?? 0)) / 2] },
            properties: { poly: pi, ring: ri, index: i },
          });
        }),
      ),
    );
    return out;
  }
}
