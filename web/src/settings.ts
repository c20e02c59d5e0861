// Deployment settings read at start from `/config.json` (web/public/config.json in the
// source, web/dist/config.json once built; an operator may edit the built copy). Every
// field is optional; a missing or unreadable file means "no basemap". See web/README.md.

import { get } from './api';

/** An optional basemap under our own layers. The app works without one (offline). */
export type Basemap =
  | {
      type: 'raster';
      /** Tile URL templates with {z}/{x}/{y}. */
      tiles: string[];
      tileSize?: number;
      maxzoom?: number;
      attribution?: string;
    }
  | {
      /** A MapLibre style document (vector basemap); our layers are drawn on top. */
      type: 'style';
      url: string;
    };

export interface Settings {
  basemap: Basemap | null;
}

function isBasemap(v: unknown): v is Basemap {
  if (!v || typeof v !== 'object') return false;
  const b = v as Record<string, unknown>;
  if (b.type === 'raster') return Array.isArray(b.tiles) && b.tiles.every((u) => typeof u === 'string');
  if (b.type === 'style') return typeof b.url === 'string';
  return false;
}

/** Reads `/config.json`; anything unusable is ignored with a console warning. */
export async function loadSettings(): Promise<Settings> {
  try {
    const raw = await get<Record<string, unknown>>('/config.json');
    const basemap = raw?.basemap ?? null;
    if (basemap !== null && !isBasemap(basemap)) {
      console.warn('config.json: ignoring an unusable basemap', basemap);
      return { basemap: null };
    }
    return { basemap };
  } catch {
    return { basemap: null };
  }
}
