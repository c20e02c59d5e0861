// Small geometry helpers on GeoJSON coordinates (longitude, latitude).
import type { Geometry, Position } from 'geojson';

export type BBox = [number, number, number, number];

function eachPosition(g: Geometry, f: (p: Position) => void): void {
  switch (g.type) {
    case 'Point':
      f(g.coordinates);
      break;
    case 'MultiPoint':
    case 'LineString':
      g.coordinates.forEach(f);
      break;
    case 'MultiLineString':
    case 'Polygon':
      g.coordinates.forEach((r) => r.forEach(f));
      break;
    case 'MultiPolygon':
      g.coordinates.forEach((p) => p.forEach((r) => r.forEach(f)));
      break;
    case 'GeometryCollection':
      g.geometries.forEach((x) => eachPosition(x, f));
      break;
  }
}

/** `[west, south, east, north]` of a geometry, or null when it has no coordinates. */
export function bboxOf(g: Geometry): BBox | null {
  let b: BBox | null = null;
  eachPosition(g, ([x, y]) => {
    if (x === undefined || y === undefined) return;
    if (!b) b = [x, y, x, y];
    else b = [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)];
  });
  return b;
}

/** Whether two boxes overlap. */
export function intersects(a: BBox, b: BBox): boolean {
  return a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];
}

/** Metres per degree of latitude (and of longitude at the equator) on the WGS 84 sphere
 * approximation used for on-screen distances only. */
const M_PER_DEG = 111_320;

/** Approximate ground distance in metres between two nearby positions. */
export function metres(a: Position, b: Position): number {
  const [ax = 0, ay = 0] = a;
  const [bx = 0, by = 0] = b;
  const k = Math.cos(((ay + by) / 2) * (Math.PI / 180));
  return Math.hypot((bx - ax) * M_PER_DEG * k, (by - ay) * M_PER_DEG);
}
