// The service worker (built to /sw.js; registered in patrol mode only, see offline.ts): it
// lets a patrol phone reload the app without a connection and still draw the map it saw.
//
// - The app itself (`/`, `/index.html`, `/assets/*`, `/config.json`): from the network when
//   it answers, else from the cache. Built assets have hashed names, so a cached one is
//   never stale and is answered from the cache first.
// - Map data the app reads (`/tiles/*`, and GET `/api/grids`, `/api/buildings`,
//   `/api/communities`, `/api/stations`): network first, the cached copy when offline.
// - Everything else (every write, `/api/auth/*`, patrol and incident reads, photos) is
//   not touched: uploads go through the outbox in IndexedDB, never through this cache.
//
// The page tells the worker which assets the running build uses (`{type: 'assets'}`); older
// ones are dropped. `{type: 'clear'}` (sign-out) drops the map data.

export {};

interface FetchEvent extends Event {
  request: Request;
  respondWith(r: Promise<Response> | Response): void;
  waitUntil(p: Promise<unknown>): void;
}
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface MessageEventLike extends ExtendableEvent {
  data: unknown;
  ports: MessagePort[];
}
interface SwScope {
  addEventListener(type: 'install' | 'activate', f: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', f: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', f: (e: MessageEventLike) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  location: Location;
}

const sw = self as unknown as SwScope;

const SHELL = 'wangge-shell-v1';
const DATA = 'wangge-data-v1';

const DATA_PREFIXES = ['/tiles/', '/api/grids', '/api/buildings', '/api/communities', '/api/stations'];

sw.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(SHELL)
      .then((c) => c.addAll(['/', '/config.json']))
      .catch(() => undefined)
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('wangge-') && k !== SHELL && k !== DATA).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

/** The network's answer, kept in `cache` when it is a success; the cached copy when the
 * network fails. */
async function networkFirst(req: Request, cache: string, key: Request | string = req): Promise<Response> {
  try {
    const r = await fetch(req);
    if (r.ok) {
      const copy = r.clone();
      void caches.open(cache).then((c) => c.put(key, copy));
    }
    return r;
  } catch (e) {
    const hit = await caches.match(key, { cacheName: cache });
    if (hit) return hit;
    throw e;
  }
}

async function cacheFirst(req: Request): Promise<Response> {
  const hit = await caches.match(req, { cacheName: SHELL });
  if (hit) return hit;
  const r = await fetch(req);
  if (r.ok) {
    const copy = r.clone();
    void caches.open(SHELL).then((c) => c.put(req, copy));
  }
  return r;
}

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  const path = url.pathname;
  if (req.mode === 'navigate') {
    // Any page of the app is the one index.html.
    e.respondWith(networkFirst(req, SHELL, '/'));
  } else if (path.startsWith('/assets/')) {
    e.respondWith(cacheFirst(req));
  } else if (path === '/config.json') {
    e.respondWith(networkFirst(req, SHELL));
  } else if (DATA_PREFIXES.some((p) => path.startsWith(p))) {
    e.respondWith(networkFirst(req, DATA));
  }
});

sw.addEventListener('message', (e) => {
  const m = e.data as { type?: string; urls?: string[] } | null;
  if (m?.type === 'assets' && Array.isArray(m.urls)) {
    const keep = new Set(m.urls.map((u) => new URL(u, sw.location.origin).pathname));
    e.waitUntil(
      caches.open(SHELL).then(async (c) => {
        for (const req of await c.keys()) {
          const p = new URL(req.url).pathname;
          if (p.startsWith('/assets/') && !keep.has(p)) await c.delete(req);
        }
        const have = new Set((await c.keys()).map((r) => new URL(r.url).pathname));
        await Promise.all([...keep].filter((p) => p.startsWith('/assets/') && !have.has(p)).map((p) => c.add(p).catch(() => undefined)));
      }),
    );
  } else if (m?.type === 'warm' && Array.isArray(m.urls)) {
    // Fetch ahead what the map of the account's area needs, four at a time; answer on the
    // port with how many of the URLs the cache holds.
    const urls = m.urls;
    e.waitUntil(
      (async () => {
        const data = await caches.open(DATA);
        const shell = await caches.open(SHELL);
        let next = 0;
        let held = 0;
        const one = async (u: string) => {
          const path = new URL(u, sw.location.origin).pathname;
          const cache = path === '/' || path === '/config.json' ? shell : data;
          if (await cache.match(u)) {
            held++;
            return;
          }
          try {
            const r = await fetch(u, { credentials: 'same-origin' });
            if (r.ok) {
              await cache.put(u, r);
              held++;
            }
          } catch {
            // offline again: what is held stays
          }
        };
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < urls.length) await one(urls[next++]!);
          }),
        );
        e.ports[0]?.postMessage({ cached: held });
      })(),
    );
  } else if (m?.type === 'clear') {
    e.waitUntil(caches.delete(DATA));
  }
});
