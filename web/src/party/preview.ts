// The boundary-change preview (POST /api/party/preview): before the boundary editor saves,
// the batch it would send is previewed; the buildings that change grid, the members who
// move from cell to cell and the rules that start or stop failing are drawn on the map and
// summed up in the editor's bar, and the administrator confirms the save or goes back to
// editing. A preview that says the commit would be refused hands the refusal to the editor,
// which explains it as it explains a refused save.
//
// Map layers: `tool-preview-*` (above every data layer and the editor's own layers).

import type { FeatureCollection } from 'geojson';
import type { GeoJSONSource, Map as MlMap } from 'maplibre-gl';
import { ApiError, request } from '../api';
import type { Decision, EditorHost, GridBatch } from '../edit/editor';
import { num, t } from '../i18n';
import type { MapLayers } from '../map/layers';
import { h } from '../ui/dom';
import { CELLS } from './findings';
import { ruleTitle } from './rules';

interface Flow {
  from: { group: string | null; branch: string | null };
  to: { group: string | null; branch: string | null };
  buildings: number;
  members: number;
  full_members: number;
  people: { code: string; name: string; membership: string; building_code: string | null }[];
}

interface RuleChange {
  change: 'starts' | 'stops' | 'changes';
  rule: string;
  title: string;
  message: string;
  grid_code: string | null;
}

/** The answer of `POST /api/party/preview`. */
export interface Preview {
  buildings: {
    moved: number;
    moves: { code: string; name: string | null; from_grid: string | null; to_grid: string | null; members: number | null }[];
    orphans: string[];
  };
  members: { moved: number; flows: Flow[] };
  cells: { code: string | null; level: number | null; name: string | null; status: string; members: [number | null, number | null]; full_members: [number | null, number | null] }[];
  rules: RuleChange[];
  map: FeatureCollection;
  commit: { ok: boolean; may_commit: boolean; error?: Record<string, unknown> };
}

const SRC = 'tool-preview';
const LAYERS = ['tool-preview-grids', 'tool-preview-moves', 'tool-preview-moves-label', 'tool-preview-rules', 'tool-preview-rules-label'];
export const CHANGE_COLOURS = { starts: '#d50000', stops: '#2e7d32', changes: '#ff6d00' } as const;

/** Draws a preview's map (changed grids, moving buildings, rule changes). */
export function drawPreview(map: MlMap, fc: FeatureCollection): void {
  const src = map.getSource(SRC) as GeoJSONSource | undefined;
  if (src) {
    src.setData(fc);
    return;
  }
  map.addSource(SRC, { type: 'geojson', data: fc });
  map.addLayer({
    id: 'tool-preview-grids',
    type: 'line',
    source: SRC,
    filter: ['==', ['get', 'kind'], 'grid'],
    paint: { 'line-color': '#6a1b9a', 'line-width': 3, 'line-dasharray': [2, 1.5] },
  });
  map.addLayer({
    id: 'tool-preview-moves',
    type: 'circle',
    source: SRC,
    filter: ['==', ['get', 'kind'], 'building_move'],
    paint: {
      'circle-radius': ['case', ['>', ['coalesce', ['get', 'members'], 0], 0], ['+', 8, ['*', 2, ['sqrt', ['get', 'members']]]], 5],
      'circle-color': ['case', ['>', ['coalesce', ['get', 'members'], 0], 0], '#6a1b9a', '#9e9e9e'],
      'circle-stroke-color': '#ffffff',
      'circle-stroke-width': 2,
    },
  });
  map.addLayer({
    id: 'tool-preview-moves-label',
    type: 'symbol',
    source: SRC,
    filter: ['all', ['==', ['get', 'kind'], 'building_move'], ['>', ['coalesce', ['get', 'members'], 0], 0]],
    layout: { 'text-field': ['to-string', ['get', 'members']], 'text-size': 11, 'text-allow-overlap': true },
    paint: { 'text-color': '#ffffff' },
  });
  map.addLayer({
    id: 'tool-preview-rules',
    type: 'circle',
    source: SRC,
    filter: ['==', ['get', 'kind'], 'finding'],
    paint: {
      'circle-radius': 11,
      'circle-color': ['match', ['get', 'change'], 'starts', CHANGE_COLOURS.starts, 'stops', CHANGE_COLOURS.stops, CHANGE_COLOURS.changes],
      'circle-stroke-color': '#ffffff',
      'circle-stroke-width': 2,
    },
  });
  map.addLayer({
    id: 'tool-preview-rules-label',
    type: 'symbol',
    source: SRC,
    filter: ['==', ['get', 'kind'], 'finding'],
    layout: { 'text-field': ['match', ['get', 'change'], 'starts', '+', 'stops', '−', '~'], 'text-size': 14, 'text-allow-overlap': true },
    paint: { 'text-color': '#ffffff' },
  });
}

/** Removes the preview from the map. */
export function clearPreview(map: MlMap): void {
  for (const id of LAYERS) if (map.getLayer(id)) map.removeLayer(id);
  if (map.getSource(SRC)) map.removeSource(SRC);
}

const grid = (g: string | null | undefined) => g ?? '—';

/** The preview's summary, with the two buttons (`onConfirm` missing: no confirm button). */
export function summary(p: Preview, onBack: () => void, onConfirm: (() => void) | null): HTMLElement {
  const flows = p.members.flows.filter((f) => f.buildings > 0);
  const out = h(
    'div',
    {
      class: 'preview',
      'data-testid': 'preview',
      'data-buildings-moved': p.buildings.moved,
      'data-members-moved': p.members.moved,
      'data-rules-changed': p.rules.length,
      'data-commit': p.commit.ok ? 'ok' : 'refused',
    },
    h('p', {}, h('strong', {}, t('party.preview'))),
    h(
      'p',
      { 'data-testid': 'preview-summary' },
      t('party.preview_summary', { b: num(p.buildings.moved), m: num(p.members.moved), r: num(p.rules.length) }),
    ),
  );
  if (!p.buildings.moved && !p.rules.length) out.append(h('p', { class: 'muted' }, t('party.preview_nothing')));
  if (flows.length) {
    out.append(
      h('h4', {}, t('party.preview_flows')),
      h(
        'ul',
        { class: 'preview-flows', 'data-testid': 'preview-flows' },
        flows.map((f) => {
          const li = h(
            'li',
            { 'data-from': f.from.group ?? '', 'data-to': f.to.group ?? '', 'data-members': f.members },
            t('party.preview_flow', { from: grid(f.from.group), to: grid(f.to.group), m: num(f.members), f: num(f.full_members), b: num(f.buildings) }),
          );
          // Names come only when the account may see them.
          if (f.people.length) {
            li.append(
              h(
                'details',
                {},
                h('summary', { class: 'small' }, t('party.member_list', { n: f.people.length })),
                h('ul', { class: 'small' }, f.people.map((m) => h('li', {}, m.name, h('span', { class: 'muted' }, ` ${m.membership === 'full' ? t('party.full') : t('party.probationary')}`)))),
              ),
            );
          }
          return li;
        }),
      ),
    );
  }
  const cells = p.cells.filter((c) => c.code);
  if (cells.length) {
    out.append(
      h('h4', {}, t('party.preview_cells')),
      h(
        'table',
        { class: 'preview-cells', 'data-testid': 'preview-cells' },
        h('tbody', {}, cells.map((c) => {
          const [a, b] = c.members;
          const d = (b ?? 0) - (a ?? 0);
          return h(
            'tr',
            { 'data-code': c.code ?? '', 'data-before': a ?? '', 'data-after': b ?? '' },
            h('td', {}, c.code, h('br', {}), h('span', { class: 'muted small' }, c.name ?? '')),
            h('td', { class: 'num' }, `${a === null ? '—' : num(a)} → ${b === null ? '—' : num(b)}`),
            h('td', { class: `num ${d > 0 ? 'up' : d < 0 ? 'down' : ''}` }, d > 0 ? `+${num(d)}` : d < 0 ? `−${num(-d)}` : ''),
          );
        })),
      ),
    );
  }
  out.append(h('h4', {}, t('party.preview_rules')));
  out.append(
    p.rules.length
      ? h(
          'ul',
          { class: 'preview-rules', 'data-testid': 'preview-rules' },
          p.rules.map((r) =>
            h(
              'li',
              { class: `change-${r.change}`, 'data-rule': r.rule, 'data-change': r.change },
              h('strong', {}, t(`party.change_${r.change}`)),
              ` ${ruleTitle(r.rule, r.title)}`,
              h('br', {}),
              h('span', { class: 'small' }, r.message),
            ),
          ),
        )
      : h('p', { class: 'muted small' }, t('party.preview_no_rules')),
  );
  if (p.buildings.moves.length) {
    out.append(
      h(
        'details',
        {},
        h('summary', {}, t('party.preview_buildings', { n: p.buildings.moves.length })),
        h(
          'ul',
          { class: 'small', 'data-testid': 'preview-buildings' },
          p.buildings.moves.map((m) =>
            h(
              'li',
              {},
              t('party.preview_building', { name: m.name ?? m.code, from: grid(m.from_grid), to: grid(m.to_grid) }),
              m.members ? h('span', { class: 'muted' }, ` · ${t('party.members')} ${num(m.members)}`) : null,
            ),
          ),
        ),
      ),
    );
  }
  if (!p.commit.may_commit) out.append(h('p', { class: 'error' }, t('party.preview_forbidden')));
  out.append(
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'button', 'data-testid': 'preview-back', onclick: onBack }, t('party.back_to_edit')),
      onConfirm ? h('button', { type: 'button', class: 'primary', 'data-testid': 'preview-confirm', onclick: onConfirm }, t('party.confirm_save')) : null,
    ),
  );
  return out;
}

/** The editor's `confirm` hook for accounts that see party cells: while the party view is
 * on (its cells layer shown), a boundary change is previewed before it is saved; with the
 * view off the editor saves at once, as it does for everyone else. */
export function partyConfirm(map: MlMap, layers: MapLayers): NonNullable<EditorHost['confirm']> {
  return (batch, box, signal) => (layers.states.get(CELLS)?.visible ? previewBeforeSave(map, batch, box, signal) : Promise.resolve({ kind: 'save' }));
}

/** Previews `batch`, draws it, shows the summary in `box` and waits for the administrator.
 * `signal` aborts (the editor was closed): the preview is removed and the answer is cancel. */
export async function previewBeforeSave(map: MlMap, batch: GridBatch, box: HTMLElement, signal: AbortSignal): Promise<Decision> {
  box.replaceChildren(h('p', { class: 'muted' }, t('party.previewing')));
  let p: Preview;
  try {
    p = (await request<Preview>('/api/party/preview', { method: 'POST', body: batch, signal })).data;
  } catch (e) {
    if (signal.aborted) return { kind: 'cancel' };
    // The same checks a save makes (a shape, a version): the save would be refused alike.
    if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 403) {
      return { kind: 'refused', error: e, note: h('p', { class: 'error', 'data-testid': 'preview-refused' }, t('party.preview_refused')) };
    }
    // No preview (a server fault, no permission): the save stays possible.
    return ask(box, signal, h('p', { class: 'error', 'data-testid': 'preview-failed' }, t('party.preview_failed', { msg: e instanceof Error ? e.message : String(e) })), true, () => undefined);
  }
  if (signal.aborted) return { kind: 'cancel' };
  if (!p.commit.ok && p.commit.error) {
    const b = p.commit.error;
    const err = new ApiError(Number(b.status ?? 422), String(b.error ?? 'refused'), String(b.message ?? ''), b);
    return { kind: 'refused', error: err, note: h('p', { class: 'error', 'data-testid': 'preview-refused' }, t('party.preview_refused')) };
  }
  drawPreview(map, p.map);
  return ask(box, signal, null, p.commit.may_commit, () => clearPreview(map), p);
}

/** Shows the summary (or `message`) with the buttons and resolves on a click or an abort. */
function ask(box: HTMLElement, signal: AbortSignal, message: Node | null, canSave: boolean, cleanup: () => void, p?: Preview): Promise<Decision> {
  return new Promise((resolve) => {
    const done = (d: Decision) => {
      signal.removeEventListener('abort', abort);
      cleanup();
      box.replaceChildren();
      resolve(d);
    };
    const abort = () => done({ kind: 'cancel' });
    signal.addEventListener('abort', abort);
    const back = () => done({ kind: 'cancel' });
    const save = canSave ? () => done({ kind: 'save' }) : null;
    if (p) {
      box.replaceChildren(summary(p, back, save));
    } else {
      box.replaceChildren(
        h(
          'div',
          { class: 'preview', 'data-testid': 'preview' },
          message,
          h(
            'div',
            { class: 'buttons' },
            h('button', { type: 'button', 'data-testid': 'preview-back', onclick: back }, t('party.back_to_edit')),
            save ? h('button', { type: 'button', class: 'primary', 'data-testid': 'preview-confirm', onclick: save }, t('party.confirm_save')) : null,
          ),
        ),
      );
    }
  });
}
