// The phone's own storage for patrols: one IndexedDB database with three stores.
//
// - `queue`: uploads not yet acknowledged by the server, in the order they were made
//   (auto-increment key). An item leaves only after a 2xx (src/patrol/outbox.ts).
// - `sent`: a short log of acknowledged uploads, for the visible queue.
// - `state`: small records by key: the running patrol (so a reload carries on where it
//   was), the account's grids and buildings (so a patrol can start without a connection).
//
// Writes that must happen together (a track chunk leaves the running patrol's buffer and
// enters the queue) share one transaction.

const NAME = 'wangge-patrol';
const VERSION = 1;

export type StoreName = 'queue' | 'sent' | 'state';

let opening: Promise<IDBDatabase> | null = null;

function promised<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error ?? new Error('IndexedDB request failed'));
  });
}

/** The database, opened once (and created on first use). */
export function db(): Promise<IDBDatabase> {
  if (!opening) {
    opening = new Promise((res, rej) => {
      const r = indexedDB.open(NAME, VERSION);
      r.onupgradeneeded = () => {
        const d = r.result;
        if (!d.objectStoreNames.contains('queue')) d.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
        if (!d.objectStoreNames.contains('sent')) d.createObjectStore('sent', { keyPath: 'seq', autoIncrement: true });
        if (!d.objectStoreNames.contains('state')) d.createObjectStore('state', { keyPath: 'key' });
      };
      r.onsuccess = () => {
        const d = r.result;
        // Another tab upgrading the schema: let it, and reopen next time.
        d.onversionchange = () => {
          d.close();
          opening = null;
        };
        res(d);
      };
      r.onerror = () => {
        opening = null;
        rej(r.error ?? new Error('cannot open IndexedDB'));
      };
      r.onblocked = () => rej(new Error('IndexedDB is blocked by another tab'));
    });
  }
  return opening;
}

/** Runs `f` in one read-write (or read-only) transaction over `stores`; resolves with its
 * result once the transaction has committed. */
export async function tx<T>(stores: StoreName[], mode: IDBTransactionMode, f: (t: IDBTransaction) => Promise<T> | T): Promise<T> {
  const d = await db();
  const t = d.transaction(stores, mode, { durability: 'strict' });
  const done = new Promise<void>((res, rej) => {
    t.oncomplete = () => res();
    t.onabort = () => rej(t.error ?? new Error('IndexedDB transaction aborted'));
    t.onerror = () => rej(t.error ?? new Error('IndexedDB transaction failed'));
  });
  let out: T;
  try {
    out = await f(t);
  } catch (e) {
    try {
      t.abort();
    } catch {
      // already finished
    }
    await done.catch(() => undefined);
    throw e;
  }
  await done;
  return out;
}

/** `store.get(key)` inside a transaction. */
export function get<T>(t: IDBTransaction, store: StoreName, key: IDBValidKey): Promise<T | undefined> {
  return promised(t.objectStore(store).get(key) as IDBRequest<T | undefined>);
}

/** `store.getAll()` inside a transaction, in key order. */
export function all<T>(t: IDBTransaction, store: StoreName): Promise<T[]> {
  return promised(t.objectStore(store).getAll() as IDBRequest<T[]>);
}

/** `store.put(value)`; resolves with the key (the new one for auto-increment stores). */
export function put(t: IDBTransaction, store: StoreName, value: unknown): Promise<IDBValidKey> {
  return promised(t.objectStore(store).put(value));
}

/** `store.delete(key)`. */
export function del(t: IDBTransaction, store: StoreName, key: IDBValidKey): Promise<undefined> {
  return promised(t.objectStore(store).delete(key));
}

/** `store.count()`. */
export function count(t: IDBTransaction, store: StoreName): Promise<number> {
  return promised(t.objectStore(store).count());
}

/** Reads one record of the `state` store. */
export function readState<T>(key: string): Promise<T | undefined> {
  return tx(['state'], 'readonly', (t) => get<{ key: string; value: T }>(t, 'state', key)).then((r) => r?.value);
}

/** Writes (or with `undefined`, deletes) one record of the `state` store. */
export function writeState(key: string, value: unknown): Promise<void> {
  return tx(['state'], 'readwrite', async (t) => {
    if (value === undefined) await del(t, 'state', key);
    else await put(t, 'state', { key, value });
  });
}
