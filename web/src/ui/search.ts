// The search box: grid codes and names, communities, building codes, names and addresses.
// It searches the same downloads the GeoJSON layers use (one fetch for both); a grid code
// typed in full is also looked up directly.
import type { Geometry } from 'geojson';
import { cachedCollection, get, URLS, type Fc, type Feat, type Me } from '../api';
import { t } from '../i18n';
import { expandUrl } from '../map/layers';
import { h } from './dom';
import type { Selection } from './panels';

interface Hit {
  sel: Selection;
  label: string;
  sub: string;
}

const PER_GROUP = 6;

function matches(f: Feat, q: string, keys: string[]): boolean {
  return keys.some((k) => {
    const v = f.properties[k];
    return typeof v === 'string' && v.toLowerCase().includes(q);
  });
}

async function find(me: Me, q: string): Promise<Hit[]> {
  const query = q.trim().toLowerCase();
  if (query.length < 2) return [];
  const safe = (p: Promise<Fc>) => p.catch(() => ({ type: 'FeatureCollection', features: [] }) as Fc);
  const [communities, g1, g2, buildings] = await Promise.all([
    safe(cachedCollection(URLS.communities)),
    safe(cachedCollection(URLS.grids1)),
    safe(cachedCollection(URLS.grids2)),
    safe(cachedCollection(expandUrl(URLS.buildings, me.bbox))),
  ]);
  const rank = (f: Feat) => (String(f.properties.code).toLowerCase() === query ? 0 : String(f.properties.code).toLowerCase().startsWith(query) ? 1 : 2);
  const pick = (fc: Fc, layer: string, keys: string[], sub: (f: Feat) => string): Hit[] =>
    fc.features
      .filter((f) => matches(f, query, keys))
      .sort((a, b) => rank(a) - rank(b) || String(a.properties.code).localeCompare(String(b.properties.code)))
      .slice(0, PER_GROUP)
      .map((f) => ({ sel: { layer, props: f.properties, geometry: f.geometry }, label: String(f.properties.name ?? f.properties.code), sub: sub(f) }));
  const hits = [
    ...pick(g2, 'grids2', ['code', 'name'], (f) => `${t('level_2')} · ${String(f.properties.code)}`),
    ...pick(g1, 'grids1', ['code', 'name'], (f) => `${t('level_1')} · ${String(f.properties.code)}`),
    ...pick(communities, 'communities', ['code', 'name'], (f) => `${t('community')} · ${String(f.properties.code)}`),
    ...pick(buildings, 'buildings', ['code', 'name', 'address'], (f) => `${t('buildings')} · ${String(f.properties.code)}`),
  ];
  hits.sort((a, b) => (String(a.sel.props.code).toLowerCase() === query ? -1 : 0) - (String(b.sel.props.code).toLowerCase() === query ? -1 : 0));
  if (!hits.length && /^\d{14}(\d{2})?$/.test(query)) {
    try {
      const g = await get<{ geometry: Geometry; properties: Feat['properties'] }>(`/api/grids/${query}`);
      hits.push({ sel: { layer: g.properties.level === 1 ? 'grids1' : 'grids2', props: g.properties, geometry: g.geometry }, label: String(g.properties.name), sub: query });
    } catch {
      // not a visible grid
    }
  }
  return hits;
}

export function searchBox(me: Me, open: (sel: Selection) => void): HTMLElement {
  const input = h('input', { type: 'search', placeholder: t('search'), 'aria-label': t('search'), 'data-testid': 'search', autocomplete: 'off' });
  const list = h('ul', { class: 'search-results', hidden: true, 'data-testid': 'search-results', role: 'listbox' });
  let timer = 0;
  let seq = 0;
  const choose = (hit: Hit) => {
    list.hidden = true;
    input.blur();
    open(hit.sel);
  };
  const run = async () => {
    const my = ++seq;
    const hits = await find(me, input.value);
    if (my !== seq) return;
    list.replaceChildren(
      ...(hits.length
        ? hits.map((hit) => h('li', { role: 'option' }, h('button', { type: 'button', onclick: () => choose(hit) }, h('strong', {}, hit.label), h('span', { class: 'muted small' }, hit.sub))))
        : input.value.trim().length >= 2
          ? [h('li', { class: 'muted' }, t('no_results'))]
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
