// The boundary editor (admins): drag, add and delete vertices of a grid on the map, with
// shared vertices of neighbouring grids following along; save with If-Match (one grid) or
// as one batch (several); a rejected save draws the server's gap and overlap shapes.
//
// Its map layers are called `tool-edit-*`, which keeps them above every data layer.

import type { FeatureCollection, Geometry, Position } from 'geojson';
import type { GeoJSONSource, Map as MlMap, MapMouseEvent, MapTouchEvent, PointLike } from 'maplibre-gl';
import { ApiError, get, request, type Fc, type FaultProps } from '../api';
import { bboxOf, type BBox } from '../geo';
import { area, num, onLang, t } from '../i18n';
import { h } from '../ui/dom';
import { EditModel, keyOf, shapeFrom, type VertexRef } from './model';

/** The map events the editor's handles follow, of the mouse and of touches. */
type Pointer = 'mousedown' | 'touchstart' | 'mousemove' | 'touchmove' | 'mouseup' | 'touchend';

const SRC = {
  shapes: 'tool-edit-shapes',
  vertices: 'tool-edit-vertices',
  midpoints: 'tool-edit-midpoints',
  faults: 'tool-edit-faults',
} as const;

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

/** Builds what the bar's message area shows, in the interface language of the moment. */
type MsgView = () => (Node | string)[];

/** The body of `POST /api/grids/batch`. */
export interface GridBatch {
  changes: { op: 'create' | 'update' | 'delete'; code?: string; version?: number; feature?: unknown }[];
}

/** The answer to [`EditorHost.confirm`]. */
export type Decision =
  | { kind: 'save' }
  | { kind: 'cancel' }
  /** The server would refuse the save: `error` is its refusal, `note` a line put above the
   * explanation. */
  | { kind: 'refused'; error: ApiError; note: Node };

/** What the editor needs from the app. */
export interface EditorHost {
  map: MlMap;
  /** Called after a successful save with the codes written. */
  saved(codes: string[], buildingsMoved: number): Promise<void>;
  /** Called when editing ends (saved or cancelled). */
  ended(code: string): void;
  toast(text: string, kind?: 'info' | 'error'): void;
  /** Asked before every save with the batch that expresses it (the body of
   * `POST /api/grids/batch`); may show what it needs in `box` (the bar's message area).
   * `save` goes on, `cancel` returns to editing, `refused` is explained like a refused save.
   * `signal` is aborted when the editor closes meanwhile. */
  confirm?(batch: GridBatch, box: HTMLElement, signal: AbortSignal): Promise<Decision>;
}

/** A finished save, for the test hook. */
export interface SaveResult {
  ok: boolean;
  status: number;
  codes: string[];
  error?: string;
  faults?: number;
  /** Refused by the preview, before anything was sent. */
  preview?: boolean;
}

export class Editor {
  model: EditModel | null = null;
  private bar: HTMLElement;
  private msg: HTMLElement;
  private linkedBox: HTMLInputElement;
  private undoBtn: HTMLButtonElement;
  private delBtn: HTMLButtonElement;
  private saveBtn: HTMLButtonElement;
  private cancelBtn: HTMLButtonElement;
  private helpEl: HTMLElement;
  private linkedText: Text;
  private titleEl: HTMLElement;
  /** Draws the message area's content (a refusal, a note) in the interface language; run
   * again after a language switch. Null when the area holds what another module put there. */
  private msgView: MsgView | null = null;
  private dragging: { refs: VertexRef[]; moved: boolean; key: string } | null = null;
  private selectedKey: string | null = null;
  private frame = 0;
  private busy = false;
  /** Aborts a pending `confirm` when the editor closes. */
  private confirming: AbortController | null = null;
  /** The last save's outcome (read by the browser tests). */
  lastSave: SaveResult | null = null;

  constructor(
    private host: EditorHost,
    parent: HTMLElement,
  ) {
    this.titleEl = h('strong', {});
    this.linkedBox = h('input', { type: 'checkbox', checked: true, 'data-testid': 'edit-linked' });
    this.linkedBox.addEventListener('change', () => {
      if (this.model) this.model.linked = this.linkedBox.checked;
      this.redraw();
    });
    this.undoBtn = h('button', { type: 'button', 'data-testid': 'edit-undo', onclick: () => this.undo() });
    this.delBtn = h('button', { type: 'button', 'data-testid': 'edit-delete', onclick: () => this.deleteSelected() });
    this.saveBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'edit-save', onclick: () => void this.save() });
    this.cancelBtn = h('button', { type: 'button', 'data-testid': 'edit-cancel', onclick: () => this.stop() });
    this.helpEl = h('p', { class: 'muted small', 'data-testid': 'edit-help' });
    this.linkedText = document.createTextNode('');
    this.msg = h('div', { class: 'edit-msg', 'data-testid': 'edit-msg', role: 'status' });
    this.bar = h(
      'section',
      { class: 'edit-bar', hidden: true, 'data-testid': 'edit-bar' },
      h('div', { class: 'edit-head' }, this.titleEl),
      this.helpEl,
      h('label', { class: 'check' }, this.linkedBox, this.linkedText),
      h('div', { class: 'buttons' }, this.undoBtn, this.delBtn, this.cancelBtn, this.saveBtn),
      this.msg,
    );
    parent.append(this.bar);
    this.relabel();
    onLang(() => this.relabel());
    document.addEventListener('keydown', (e) => {
      if (!this.model) return;
      if (e.target instanceof HTMLInputElement) return;
      if ((e.key === 'Delete' || e.key === 'Backspace') && this.selectedKey) this.deleteSelected();
      else if (e.key === 'z' && (e.ctrlKey || e.metaKey)) this.undo();
      else if (e.key === 'Escape') this.stop();
    });
  }

  /** Writes the bar's words in the interface language: its title, help, buttons and the
   * message shown (built once, the bar outlives every language switch). */
  private relabel(): void {
    this.undoBtn.textContent = t('edit.undo');
    this.delBtn.textContent = t('edit.delete_vertex');
    this.saveBtn.textContent = t('ui.save');
    this.cancelBtn.textContent = t('ui.cancel');
    this.helpEl.textContent = t('edit.edit_help');
    this.linkedText.data = ` ${t('edit.linked')}`;
    const m = this.model;
    this.titleEl.textContent = m ? `${t('edit.editing')}: ${m.targetShape.name} (${m.target})` : '';
    if (this.msgView) this.msg.replaceChildren(...this.msgView());
  }

  get active(): boolean {
    return this.model !== null;
  }

  /** The selected vertex as [lon, lat] (after a drag: where it was dropped). */
  get selected(): Position | null {
    return this.selectedKey ? this.selectedKey.split(',').map(Number) : null;
  }

  /** Loads a grid and every grid around it, and shows the handles. */
  async start(code: string): Promise<void> {
    this.stop(false);
    const target = await request<{ geometry: Geometry; properties: { code: string } }>(`/api/grids/${encodeURIComponent(code)}`);
    const b = bboxOf(target.data.geometry);
    if (!b) throw new Error(`grid ${code} has no geometry`);
    const pad = Math.max(b[2] - b[0], b[3] - b[1]) * 0.05;
    const around: BBox = [b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad];
    const fc = await get<Fc>(`/api/grids?bbox=${around.map((v) => v.toFixed(7)).join(',')}`);
    const shapes = fc.features
      .filter((f) => f.geometry)
      .map((f) =>
        shapeFrom(String(f.properties.code), String(f.properties.name ?? ''), Number(f.properties.level), Number(f.properties.version), f.geometry as Geometry & { coordinates: unknown }),
      );
    this.model = new EditModel(code, shapes);
    this.model.linked = this.linkedBox.checked;
    this.selectedKey = null;
    this.lastSave = null;
    this.say();
    this.relabel();
    this.bar.hidden = false;
    this.addLayers();
    this.redraw();
    this.bind(true);
  }

  /** Leaves the editor, discarding unsaved changes. */
  stop(notify = true): void {
    const code = this.model?.target;
    this.confirming?.abort();
    this.confirming = null;
    this.model = null;
    this.dragging = null;
    this.bar.hidden = true;
    this.bind(false);
    this.removeLayers();
    if (notify && code) this.host.ended(code);
  }

  private addLayers(): void {
    const map = this.host.map;
    for (const id of Object.values(SRC)) if (!map.getSource(id)) map.addSource(id, { type: 'geojson', data: EMPTY });
    const add = (spec: Parameters<MlMap['addLayer']>[0]) => {
      if (!map.getLayer(spec.id)) map.addLayer(spec);
    };
    add({
      id: 'tool-edit-faults-fill',
      type: 'fill',
      source: SRC.faults,
      paint: { 'fill-color': ['match', ['get', 'kind'], 'gap', '#d50000', 'overlap', '#ff9100', '#aa00ff'], 'fill-opacity': 0.6 },
    });
    add({
      id: 'tool-edit-faults-line',
      type: 'line',
      source: SRC.faults,
      paint: { 'line-color': ['match', ['get', 'kind'], 'gap', '#b71c1c', 'overlap', '#e65100', '#6a1b9a'], 'line-width': 3 },
    });
    add({
      id: 'tool-edit-shapes-fill',
      type: 'fill',
      source: SRC.shapes,
      paint: { 'fill-color': ['case', ['get', 'target'], '#1565c0', '#90caf9'], 'fill-opacity': ['case', ['get', 'target'], 0.18, 0.08] },
    });
    add({
      id: 'tool-edit-shapes-line',
      type: 'line',
      source: SRC.shapes,
      paint: {
        'line-color': ['case', ['get', 'changed'], '#0d47a1', '#42a5f5'],
        'line-width': ['case', ['get', 'target'], 3, ['get', 'changed'], 2.5, 1],
      },
    });
    add({
      id: 'tool-edit-midpoints',
      type: 'circle',
      source: SRC.midpoints,
      paint: { 'circle-radius': 4, 'circle-color': '#fff', 'circle-stroke-color': '#1565c0', 'circle-stroke-width': 1.5, 'circle-opacity': 0.8 },
    });
    add({
      id: 'tool-edit-vertices',
      type: 'circle',
      source: SRC.vertices,
      paint: {
        'circle-radius': ['case', ['==', ['get', 'key'], this.selectedKey ?? ''], 9, 6],
        'circle-color': ['case', ['>', ['get', 'shared'], 1], '#1565c0', '#fff'],
        'circle-stroke-color': ['case', ['==', ['get', 'key'], this.selectedKey ?? ''], '#d50000', '#0d47a1'],
        'circle-stroke-width': 2,
      },
    });
    add({
      id: 'tool-edit-faults-mark',
      type: 'circle',
      source: SRC.faults,
      filter: ['==', ['get', 'mark'], true],
      paint: {
        'circle-radius': 16,
        'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-color': ['match', ['get', 'kind'], 'gap', '#d50000', 'overlap', '#ff6d00', '#aa00ff'],
        'circle-stroke-width': 3,
      },
    });
  }

  private removeLayers(): void {
    const map = this.host.map;
    for (const l of [...(map.getStyle()?.layers ?? [])]) if (l.id.startsWith('tool-edit-') && !l.id.startsWith('tool-edit-faults')) map.removeLayer(l.id);
    for (const id of [SRC.shapes, SRC.vertices, SRC.midpoints]) if (map.getSource(id)) map.removeSource(id);
    this.clearFaults();
  }

  /** Removes the drawn gap/overlap shapes of the last rejected save. */
  clearFaults(): void {
    const map = this.host.map;
    if (this.model) {
      void (map.getSource(SRC.faults) as GeoJSONSource | undefined)?.setData(EMPTY);
      return;
    }
    for (const id of ['tool-edit-faults-mark', 'tool-edit-faults-line', 'tool-edit-faults-fill']) if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(SRC.faults)) map.removeSource(SRC.faults);
  }

  private redraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const m = this.model;
    if (!m) return;
    const map = this.host.map;
    const changed = new Set(m.changed().map((s) => s.code));
    const shapes: FeatureCollection = {
      type: 'FeatureCollection',
      features: [...m.shapes.values()]
        .filter((s) => s.code === m.target || changed.has(s.code) || s.level === m.targetShape.level)
        .map((s) => ({
          type: 'Feature',
          geometry: m.geometry(s),
          properties: { code: s.code, target: s.code === m.target, changed: changed.has(s.code) },
        })),
    };
    void (map.getSource(SRC.shapes) as GeoJSONSource | undefined)?.setData(shapes);
    void (map.getSource(SRC.vertices) as GeoJSONSource | undefined)?.setData({ type: 'FeatureCollection', features: m.vertices() });
    void (map.getSource(SRC.midpoints) as GeoJSONSource | undefined)?.setData({ type: 'FeatureCollection', features: m.midpoints() });
    const sel = this.selectedKey ?? '';
    if (map.getLayer('tool-edit-vertices')) {
      map.setPaintProperty('tool-edit-vertices', 'circle-radius', ['case', ['==', ['get', 'key'], sel], 9, 6]);
      map.setPaintProperty('tool-edit-vertices', 'circle-stroke-color', ['case', ['==', ['get', 'key'], sel], '#d50000', '#0d47a1']);
    }
    this.undoBtn.disabled = !m.canUndo || this.busy;
    this.delBtn.disabled = !this.selectedKey || this.busy;
    this.saveBtn.disabled = this.busy;
    this.bar.dataset.changed = [...changed].sort().join(',');
  }

  // ---- pointer handling -------------------------------------------------------------

  private hit(point: PointLike, layer: string, slack: number): { properties: Record<string, unknown> } | null {
    const map = this.host.map;
    if (!map.getLayer(layer)) return null;
    const [x, y] = Array.isArray(point) ? (point as [number, number]) : [(point as { x: number }).x, (point as { y: number }).y];
    const found = map.queryRenderedFeatures(
      [
        [x - slack, y - slack],
        [x + slack, y + slack],
      ],
      { layers: [layer] },
    );
    return found[0] ?? null;
  }

  private onDown = (e: MapMouseEvent | MapTouchEvent): void => {
    const m = this.model;
    if (!m || this.busy) return;
    if ('points' in e && e.points.length > 1) return;
    const slack = e.type === 'touchstart' ? 14 : 6;
    const v = this.hit(e.point, 'tool-edit-vertices', slack);
    if (v) {
      e.preventDefault();
      const key = String(v.properties.key);
      m.checkpoint();
      this.dragging = { refs: m.refs(key), moved: false, key };
      return;
    }
    const mid = this.hit(e.point, 'tool-edit-midpoints', slack);
    if (mid) {
      e.preventDefault();
      m.checkpoint();
      const p = mid.properties;
      const key = m.insert(Number(p.poly), Number(p.ring), Number(p.index), [e.lngLat.lng, e.lngLat.lat]);
      this.dragging = { refs: m.refs(key), moved: true, key };
      this.selectedKey = key;
      this.redraw();
    }
  };

  private onMove = (e: MapMouseEvent | MapTouchEvent): void => {
    const d = this.dragging;
    const m = this.model;
    if (!d || !m) {
      if (m && e.type === 'mousemove') {
        const over = this.hit(e.point, 'tool-edit-vertices', 6) ?? this.hit(e.point, 'tool-edit-midpoints', 6);
        this.host.map.getCanvas().style.cursor = over ? 'move' : '';
      }
      return;
    }
    e.preventDefault();
    m.move(d.refs, [e.lngLat.lng, e.lngLat.lat]);
    d.moved = true;
    d.key = keyOf([e.lngLat.lng, e.lngLat.lat]);
    this.redraw();
  };

  private onUp = (): void => {
    const d = this.dragging;
    if (!d || !this.model) return;
    this.dragging = null;
    if (!d.moved) {
      // A click without a drag selects the vertex (for deleting); nothing changed.
      this.model.undo();
      this.selectedKey = this.selectedKey === d.key ? null : d.key;
    } else {
      // Keys are rounded positions: the moved vertex's key is its new rounded position.
      const ref = d.refs[0];
      const s = ref ? this.model.shapes.get(ref.code) : undefined;
      const pos = ref && s ? s.polys[ref.poly]?.[ref.ring]?.[ref.index] : undefined;
      this.selectedKey = pos ? keyOf(pos) : null;
    }
    this.redraw();
  };

  private bind(on: boolean): void {
    const map = this.host.map;
    // The same handlers for the mouse and for touches.
    const handlers: [Pointer, (e: MapMouseEvent | MapTouchEvent) => void][] = [
      ['mousedown', this.onDown],
      ['touchstart', this.onDown],
      ['mousemove', this.onMove],
      ['touchmove', this.onMove],
      ['mouseup', this.onUp],
      ['touchend', this.onUp],
    ];
    for (const [type, f] of handlers) {
      if (on) map.on(type, f);
      else map.off(type, f);
    }
    if (!on) map.getCanvas().style.cursor = '';
  }

  undo(): void {
    if (this.model?.undo()) {
      this.selectedKey = null;
      this.redraw();
    }
  }

  deleteSelected(): void {
    const m = this.model;
    if (!m || !this.selectedKey) return;
    m.checkpoint();
    if (!m.remove(this.selectedKey)) {
      m.undo();
      this.host.toast(t('edit.ring_too_small'), 'error');
      return;
    }
    this.selectedKey = null;
    this.redraw();
  }

  /** Moves the vertex at `from` to `to` as a drag would (used by tests and keyboard-free
   * clients); returns how many grid vertices moved. */
  moveVertex(from: Position, to: Position): number {
    const m = this.model;
    if (!m) return 0;
    const refs = m.refs(keyOf(from));
    if (!refs.length) return 0;
    m.checkpoint();
    m.move(refs, to);
    this.redraw();
    return refs.length;
  }

  // ---- saving -----------------------------------------------------------------------

  /** Sends the changed grids: PUT with If-Match for one grid, a batch for several. */
  async save(): Promise<SaveResult> {
    const m = this.model;
    if (!m || this.busy) return { ok: false, status: 0, codes: [] };
    const changed = m.changed();
    if (!changed.length) {
      this.say(() => [t('edit.nothing_changed')]);
      return { ok: false, status: 0, codes: [] };
    }
    const codes = changed.map((s) => s.code).sort();
    const batch: GridBatch = {
      changes: changed.map((s) => ({ op: 'update', code: s.code, version: s.version, feature: { type: 'Feature', geometry: m.geometry(s), properties: {} } })),
    };
    this.busy = true;
    this.draw();
    this.clearFaults();
    const stopped = await this.confirmed(m, batch, codes);
    if (stopped) return stopped;
    this.say(() => [t('edit.saving')]);
    try {
      let body: { buildings_moved?: number };
      if (changed.length === 1) {
        const s = changed[0]!;
        body = (
          await request<{ buildings_moved?: number }>(`/api/grids/${encodeURIComponent(s.code)}`, {
            method: 'PUT',
            ifMatch: `"${s.version}"`,
            body: batch.changes[0]!.feature,
          })
        ).data;
      } else {
        body = (await request<{ buildings_moved?: number }>('/api/grids/batch', { method: 'POST', body: batch })).data;
      }
      const moved = body.buildings_moved ?? 0;
      this.lastSave = { ok: true, status: 200, codes };
      this.busy = false;
      this.stop(false);
      await this.host.saved(codes, moved);
      this.host.toast(t('edit.saved', { n: codes.length, m: moved }));
      return this.lastSave;
    } catch (e) {
      this.busy = false;
      this.lastSave = this.explain(e, codes);
      this.draw();
      return this.lastSave;
    }
  }

  /** Asks the host's `confirm` hook (when there is one) about `batch`, while the editor is
   * busy. Null: go on saving; otherwise the outcome to return (a cancel, which goes back to
   * editing, or a refusal, explained as a refused save). */
  private async confirmed(m: EditModel, batch: GridBatch, codes: string[]): Promise<SaveResult | null> {
    if (!this.host.confirm) return null;
    const ctl = new AbortController();
    this.confirming = ctl;
    // The confirm hook writes into the message area itself.
    this.msgView = null;
    let d: Decision;
    try {
      d = await this.host.confirm(batch, this.msg, ctl.signal);
    } catch (e) {
      d = { kind: 'refused', error: e instanceof ApiError ? e : new ApiError(0, 'error', String(e), {}), note: document.createTextNode('') };
    }
    this.confirming = null;
    if (d.kind === 'save' && !ctl.signal.aborted && this.model === m) return null;
    this.busy = false;
    const cancelled: SaveResult = { ok: false, status: 0, codes, error: 'cancelled' };
    // Closed meanwhile: nothing to draw.
    if (ctl.signal.aborted || this.model !== m) return cancelled;
    if (d.kind === 'refused') {
      this.lastSave = { ...this.explain(d.error, codes), preview: true };
      // (Set by `explain`; the compiler cannot see that through the call.)
      const view = this.msgView as MsgView | null;
      if (view) this.say(() => [d.note, ...view()]);
      else this.msg.prepend(d.note);
    }
    this.draw();
    return d.kind === 'refused' ? this.lastSave : cancelled;
  }

  /** Shows `view` in the message area (nothing: empties it), drawn again after a language
   * switch. */
  private say(view: MsgView | null = null): void {
    this.msgView = view;
    this.msg.replaceChildren(...(view?.() ?? []));
  }

  /** Shows why the server refused a save, drawing fault shapes when there are any. */
  private explain(e: unknown, codes: string[]): SaveResult {
    if (!(e instanceof ApiError)) {
      this.say(() => [h('p', { class: 'error' }, t('ui.error', { msg: String(e) }))]);
      return { ok: false, status: 0, codes, error: String(e) };
    }
    const out: SaveResult = { ok: false, status: e.status, codes, error: e.code };
    if (e.code === 'partition_violation') {
      const faults = (e.body.faults ?? EMPTY) as FeatureCollection<Geometry, FaultProps>;
      out.faults = faults.features.length;
      this.drawFaults(faults);
      const tol = typeof e.body.tolerance_m2 === 'number' ? e.body.tolerance_m2 : 1;
      const kindName = (k: string) => (k === 'gap' ? t('edit.gap') : k === 'overlap' ? t('edit.overlap') : t('edit.outside'));
      const oneSided = faults.features.some((f) => f.properties.kind === 'gap' || f.properties.kind === 'overlap');
      this.say(() => [
        h('p', { class: 'error' }, t('edit.rejected', { tol: num(tol, 2) })),
        ...(oneSided ? [h('p', { class: 'small', 'data-testid': 'edit-shared-hint' }, t('edit.shared_hint'))] : []),
        h(
          'ul',
          { class: 'faults', 'data-testid': 'edit-faults' },
          faults.features.map((f) =>
            h(
              'li',
              { class: `fault-${f.properties.kind}` },
              `${kindName(f.properties.kind)} · ${area(f.properties.area_m2)} · ${t('grids.parent')} ${f.properties.parent_code}`,
              f.properties.grids?.length ? ` · ${f.properties.grids.join(', ')}` : '',
            ),
          ),
        ),
      ]);
    } else if (e.code === 'stale_version') {
      const code = this.model?.target;
      this.say(() => [
        h('p', { class: 'error' }, t('edit.stale', { v: String(e.body.current_version ?? '?') })),
        h('button', { type: 'button', onclick: () => code && void this.start(code) }, t('edit.reload_edit')),
      ]);
    } else if (e.code === 'invalid_geometry') {
      const at = (e.body.where as { at?: [number, number] } | undefined)?.at;
      if (at) {
        this.drawFaults({
          type: 'FeatureCollection',
          features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: at }, properties: { kind: 'invalid', parent_code: '', grids: [], area_m2: 0 } }],
        });
      }
      this.say(() => [h('p', { class: 'error' }, t('edit.invalid_geometry', { msg: e.message }))]);
    } else if (e.code === 'buildings_outside_grids') {
      const list = Array.isArray(e.body.buildings) ? (e.body.buildings as string[]).slice(0, 10).join(', ') : '';
      this.say(() => [h('p', { class: 'error' }, t('edit.orphans', { list }))]);
    } else {
      this.say(() => [h('p', { class: 'error' }, t('ui.error', { msg: e.message }))]);
    }
    return out;
  }

  /** Draws fault shapes, with a ring around each so that thin slivers are seen. */
  private drawFaults(fc: FeatureCollection<Geometry, FaultProps>): void {
    const marks = fc.features
      .filter((f) => f.geometry.type !== 'Point')
      .map((f) => {
        // The server's point on the fault itself; the centre of its box only as a fallback
        // (for an L-shaped sliver the box's centre lies far from it).
        const at = f.properties.at;
        const b = bboxOf(f.geometry);
        const coordinates = Array.isArray(at) && at.length === 2 ? at : b ? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] : null;
        return coordinates ? { type: 'Feature' as const, geometry: { type: 'Point' as const, coordinates }, properties: { ...f.properties, mark: true } } : null;
      })
      .filter((f) => f !== null);
    const points = fc.features.filter((f) => f.geometry.type === 'Point').map((f) => ({ ...f, properties: { ...f.properties, mark: true } }));
    const data = { type: 'FeatureCollection' as const, features: [...fc.features.filter((f) => f.geometry.type !== 'Point'), ...marks, ...points] };
    void (this.host.map.getSource(SRC.faults) as GeoJSONSource | undefined)?.setData(data as FeatureCollection);
  }
}
