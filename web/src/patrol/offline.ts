// Offline start for patrol phones: the service worker (sw.ts, built to /sw.js) keeps the app
// and the map data it has seen, and the signed-in account is remembered, so that a reload
// without a connection opens the map and resumes the running patrol. Other accounts
// register nothing.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { get, URLS, type Me } from '../api';
import { expandUrl, withOptions, type MapLayers } from '../map/layers';

const ME = 'wangge.offline.me';

/** Registers the service worker and tells it which assets the running build uses. */
export function registerOffline(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker
    .register('/sw.js', { scope: '/' })
    .then(() => navigator.serviceWorker.ready)
    .then((reg) => {
      // MapLibre's worker script is loaded before the service worker controls the page and
      // is not always among the resource entries; without it no map draws offline.
      const urls = performance
        .getEntriesByType('resource')
        .map((e) => e.name)
        .concat([...document.querySelectorAll<HTMLScriptElement | HTMLLinkElement>('script[src], link[href]')].map((e) => ('src' in e ? e.src : e.href)))
        .concat(new URL(workerUrl, location.href).href)
        .filter((u) => u.startsWith(location.origin) && new URL(u).pathname.startsWith('/assets/'));
      reg.active?.postMessage({ type: 'assets', urls: [...new Set(urls)] });
    })
    .catch(() => undefined);
}

/** Tiles fetched ahead for offline use at most (a few hundred cover a grid's area). */
const WARM_MAX = 1500;
/** Deepest zoom fetched ahead; deeper views draw the deepest tiles MapLibre has. */
const WARM_ZOOM = 18;

function tileRange(b: [number, number, number, number], z: number): [number, number, number, number] {
  const n = 2 ** z;
  const x = (lon: number) => Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)));
  const y = (lat: number) => {
    const r = (lat * Math.PI) / 180;
    return Math.min(n - 1, Math.max(0, Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n)));
  };
  return [x(b[0]), y(b[3]), x(b[2]), y(b[1])];
}

/** Asks the service worker to keep, for use without a connection, what the map of the
 * account's area needs: the lists the layers read and their vector tiles down to street
 * level. Resolves with the number of URLs the worker holds (0 without a worker). */
export async function warmOffline(layers: MapLayers, me: Me): Promise<number> {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator) || !navigator.onLine) return 0;
  const reg = await navigator.serviceWorker.ready;
  const urls = new Set<string>(['/', '/config.json', URLS.grids1, URLS.grids2, URLS.communities]);
  const b = me.bbox;
  let budget = WARM_MAX;
  for (const st of layers.states.values()) {
    const src = st.def.source;
    if (src.kind === 'geojson') {
      if (!src.load) urls.add(withOptions(expandUrl(src.url, b), st.options));
      continue;
    }
    // Layers whose data the app sets itself (e.g. coverage results) have nothing to fetch.
    if (src.kind !== 'tiles') continue;
    const tj = `/tiles/${src.layer}.json`;
    urls.add(tj);
    if (!b) continue;
    try {
      const doc = await get<{ tiles: string[]; minzoom?: number; maxzoom?: number }>(tj);
      const template = doc.tiles[0];
      if (!template) continue;
      for (let z = Math.max(doc.minzoom ?? 0, 10); z <= Math.min(doc.maxzoom ?? WARM_ZOOM, WARM_ZOOM); z++) {
        const [x0, y0, x1, y1] = tileRange(b, z);
        if ((x1 - x0 + 1) * (y1 - y0 + 1) > budget) break;
        for (let x = x0; x <= x1; x++) {
          for (let y = y0; y <= y1; y++) {
            urls.add(template.replace('{z}', String(z)).replace('{x}', String(x)).replace('{y}', String(y)));
            budget--;
          }
        }
      }
    } catch {
      // this layer stays online-only
    }
  }
  const worker = reg.active;
  if (!worker) return 0;
  return new Promise<number>((res) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (e: MessageEvent<{ cached?: number }>) => res(e.data.cached ?? 0);
    worker.postMessage({ type: 'warm', urls: [...urls] }, [ch.port2]);
  });
}

/** Remembers the account for an offline start (patrol accounts only). */
export function rememberMe(me: Me): void {
  try {
    localStorage.setItem(ME, JSON.stringify(me));
  } catch {
    // storage full or forbidden: no offline start
  }
}

/** The account remembered for an offline start, if any. */
export function offlineMe(): Me | null {
  try {
    const s = localStorage.getItem(ME);
    return s ? (JSON.parse(s) as Me) : null;
  } catch {
    return null;
  }
}

/** Forgets the account and the cached map data (sign-out). The queue in IndexedDB stays:
 * its items belong to their account and are sent when it signs in again. */
export async function forgetOffline(): Promise<void> {
  localStorage.removeItem(ME);
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    reg?.active?.postMessage({ type: 'clear' });
  } catch {
    // no worker
  }
}
