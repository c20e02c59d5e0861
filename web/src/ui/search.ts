// The search box: grid codes and names, communities, building codes, names and addresses.
// The server searches what the account may see (`GET /api/search`); the chosen hit's whole
// feature is fetched when it is opened.
import type { Geometry } from 'geojson';
import { cachedCollection, get, URLS, type Fc, type Feat, type Me } from '../api';
import { t } from '../i18n';
import { h } from './dom';
import type { Selection } from './panels';

interface Hit {
  /** Fetches the whole feature (geometry and properties) when the hit is chosen. */
  resolve: () => Promise<Selection | null>;
  label: string;
  sub: string;
}

interface Result {
  kind: 'grid' | 'community' | 'building';
  level?: number;
  code: string;
  name?: string | null;
  address?: string | null;
  bbox?: [number, number, number, number] | null;
}

async function resolve(r: Result): Promise<Selection | null> {
  if (r.kind === 'grid') {
    const g = await get<{ geometry: Geometry; properties: Feat['properties'] }>(`/api/grids/${encodeURIComponent(r.code)}`);
    return { layer: r.level === 1 ? 'grids1' : 'grids2', props: g.properties, geometry: g.geometry };
  }
  if (r.kind === 'community') {
    const fc = await cachedCollection(URLS.communities);
    const f = fc.features.find((x) => x.properties.code === r.code);
    return f ? { layer: 'communities', props: f.properties, geometry: f.geometry } : null;
  }
  const b = r.bbox;
  if (!b) return null;
  const fc = await get<Fc>(`/api/buildings?bbox=${b.join(',')}`);
  const f = fc.features.find((x) => x.properties.code === r.code);
  return f ? { layer: 'buildings', props: f.properties, geometry: f.geometry } : null;
}

/** Asks the server (`GET /api/search`), which searches everything the account may see. */
async function find(_me: Me, q: string): Promise<Hit[]> {
  const query = q.trim();
  if (query.length < 2) return [];
  let results: Result[] = [];
  try {
    results = (await get<{ results: Result[] }>(`/api/search?q=${encodeURIComponent(query)}&limit=20`)).results;
  } catch {
    return [];
  }
  const kindLabel = (r: Result) =>
    r.kind === 'grid' ? t(r.level === 1 ? 'grids.level_1' : 'grids.level_2') : r.kind === 'community' ? t('ui.community') : t('ui.buildings');
  return results.map((r) => ({
    resolve: () => resolve(r),
    label: String(r.name ?? r.address ?? r.code),
    sub: `${kindLabel(r)} · ${r.code}`,
  }));
}

export function searchBox(me: Me, open: (sel: Selection) => void): HTMLElement {
  const input = h('input', { type: 'search', placeholder: t('ui.search'), 'aria-label': t('ui.search'), 'data-testid': 'search', autocomplete: 'off' });
  const list = h('ul', { class: 'search-results', hidden: true, 'data-testid': 'search-results', role: 'listbox' });
  let timer = 0;
  let seq = 0;
  const choose = (hit: Hit) => {
    list.hidden = true;
    input.blur();
    void hit.resolve().then((sel) => {
      if (sel) open(sel);
    });
  };
  const run = async () => {
    const my = ++seq;
    const hits = await find(me, input.value);
    if (my !== seq) return;
    list.replaceChildren(
      ...(hits.length
        ? hits.map((hit) => h('li', { role: 'option' }, h('button', { type: 'button', onclick: () => choose(hit) }, h('strong', {}, hit.label), h('span', { class: 'muted small' }, hit.sub))))
        : input.value.trim().length >= 2
          ? [h('li', { class: 'muted' }, t('ui.no_results'))]
          : []),
    );
    list.hidden = list.childElementCount === 0;
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void run(), 200);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      clearTimeout(timer);
      void run().then(() => list.querySelector('button')?.click());
    } else if (e.key === 'Escape') {
      list.hidden = true;
    }
  });
  input.addEventListener('focus', () => {
    if (list.childElementCount) list.hidden = false;
  });
  return h('div', { class: 'search' }, input, list);
}
