// Patrol mode (accounts that log patrols, on a phone): a bar at the bottom of the map to
// start a patrol of one of my grids, follow it (time, points, distance, GPS, connection),
// record households visited by tapping buildings (or picking them from a list) and ticking
// the households reached (src/patrol/doors.ts, kept offline), report an
// incident with photos, and end the patrol; my incidents (src/patrol/mine_view.ts: those
// assigned to me, started and resolved from here); and the visible queue of uploads
// (src/patrol/outbox.ts) with what is pending, failed and sent. The running patrol lives in
// IndexedDB (src/patrol/recorder.ts), so a reload resumes it.

import type { GeoJSONSource, MapMouseEvent } from 'maplibre-gl';
import type { Feature, Geometry } from 'geojson';
import { cachedCollection, get, URLS, type Fc, type Props } from '../api';
import { bboxOf, metres, type BBox } from '../geo';
import { named, num, onLang, t, when } from '../i18n';
import { append, h } from '../ui/dom';
import type { AppApi } from '../ui/panels';
import { CATEGORIES } from './categories';
import { readState, writeState } from './db';
import { DoorLists, doorPicker } from './doors';
import { duration, length } from './format';
import { PHOTO_TYPES, photoPicker, type PickedPhoto } from './photo';
import { sha256 } from './ids';
import { Outbox, type Item, type Label, type Sent } from './outbox';
import { CHUNK, MAX_ACCURACY_M, Recorder } from './recorder';
import { MyIncidents } from './mine';
import { MineView } from './mine_view';
import { registerOffline, rememberMe, warmOffline } from './offline';

/** What patrol mode needs of the app: the panel API and a say in map clicks. */
export interface PatrolHost extends AppApi {
  /** Called first on every map click; a hook returning true has handled it. */
  clickHooks: ((e: MapMouseEvent, touch: boolean) => boolean)[];
}

interface GridChoice {
  code: string;
  name: string;
  parent: string | null;
  bbox: BBox | null;
}

interface BuildingInfo {
  code: string;
  name: string | null;
  households: number;
  grid: string;
  lon: number;
  lat: number;
}

const PHOTOS_MAX = 5;

function centre(g: Geometry): [number, number] | null {
  const b = bboxOf(g);
  return b ? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] : null;
}

function label(l: Label): string {
  return t(`patrol.${l.key}`, l.vars ?? {});
}

type View = 'main' | 'visit' | 'incident' | 'end' | 'mine';

export class PatrolMode {
  readonly outbox: Outbox;
  readonly recorder: Recorder;
  readonly mine: MyIncidents;
  /** The households of my patrol's buildings, for the visit form (kept offline). */
  readonly doors: DoorLists;
  private readonly mineView: MineView;
  readonly el: HTMLElement;
  private statusEl: HTMLElement;
  private mainEl: HTMLElement;
  private queueEl: HTMLElement;
  private view: View = 'main';
  private queueOpen = false;
  private folded = false;
  private grids: GridChoice[] = [];
  private buildings = new Map<string, BuildingInfo>();
  private visitTarget: { code: string; name: string | null; households: number | null; lon: number; lat: number } | null = null;
  private photos: PickedPhoto[] = [];
  private useMapCentre = false;
  private ticker = 0;
  private drawQueued = false;

  /** `patrols: false` is the bar of a staff member who logs no patrols (a grid chief) but
   * has incidents assigned: my incidents and the queue only, nothing kept for an offline
   * start (see [`assigneeMode`]). */
  constructor(
    private app: PatrolHost,
    parent: HTMLElement,
    private readonly patrols = true,
  ) {
    const user = app.me.username;
    this.outbox = new Outbox(user);
    this.recorder = new Recorder(this.outbox);
    this.mine = new MyIncidents(this.outbox);
    this.doors = new DoorLists(user);
    const back = () => {
      if (this.patrols) return this.show('main');
      this.folded = true;
      this.renderAll();
    };
    const show = (lon: number, lat: number) => {
      this.app.map.flyTo({ center: [lon, lat], zoom: Math.max(this.app.map.getZoom(), 17) });
      this.folded = true;
      this.renderAll();
    };
    this.mineView = new MineView({ toast: (m, k) => app.toast(m, k), redraw: () => this.renderAll(), back, show }, this.mine);
    if (!patrols) this.view = 'mine';
    this.statusEl = h('div', { class: 'patrol-status' });
    this.mainEl = h('div', { class: 'patrol-main' });
    this.queueEl = h('div', { class: 'patrol-queue', 'data-testid': 'queue', hidden: true });
    this.el = h('section', { class: 'patrol-bar', 'data-testid': 'patrol-bar', 'aria-label': t('patrol.patrol') }, this.statusEl, this.mainEl, this.queueEl);
    parent.append(this.el);

    this.outbox.onChange(() => {
      this.renderStatus();
      if (this.queueOpen) this.renderQueue();
    });
    this.recorder.onChange(() => {
      this.renderStatus();
      this.scheduleDraw();
    });
    this.mine.onChange(() => {
      this.renderStatus();
      if (this.view === 'mine' && !this.mineView.editing) this.renderMain();
    });
    onLang(() => this.renderAll());
    app.clickHooks.push((e, touch) => this.click(e, touch));
    window.__wanggePatrol = { outbox: this.outbox, recorder: this.recorder, mine: this.mine, mode: this };

    this.renderAll();
    if (!patrols) {
      void this.mine.load().then(() => (this.el.dataset.ready = '1'));
      return;
    }
    this.addOverlay();
    void this.boot();
    rememberMe(app.me);
    registerOffline();
  }

  private async boot(): Promise<void> {
    const resumed = await this.recorder.resume();
    void this.mine.load();
    this.grids = await this.loadGrids();
    if (resumed) void this.loadBuildings();
    // The households of my grids' buildings, kept for a visit made without a connection.
    const myDoors = () => this.doors.load(this.app.me.scope.kind === 'grids' ? this.app.me.scope.grids : (this.recorder.running?.grids ?? []));
    void myDoors();
    window.addEventListener('online', () => void myDoors());
    this.renderAll();
    this.el.dataset.ready = '1';
    this.warmed = warmOffline(this.app.layers, this.app.me).catch(() => 0);
  }

  /** Resolves once the service worker holds the map of my area (the number of URLs). */
  warmed: Promise<number> = Promise.resolve(0);

  // ---- data ------------------------------------------------------------------------------

  /** The second-level grids of my scope (a first-level grid stands for its children),
   * remembered for starting a patrol without a connection. */
  private async loadGrids(): Promise<GridChoice[]> {
    const key = `grids:${this.app.me.username}`;
    try {
      const fc = await cachedCollection(URLS.grids2);
      const scope = new Set(this.app.me.scope.grids);
      const mine = this.app.me.scope.kind === 'grids';
      const list: GridChoice[] = fc.features
        .filter((f) => !mine || scope.has(String(f.properties.code)) || scope.has(String(f.properties.parent_code)))
        .map((f) => ({
          code: String(f.properties.code),
          name: String(f.properties.name ?? f.properties.code),
          parent: typeof f.properties.parent_code === 'string' ? f.properties.parent_code : null,
          bbox: bboxOf(f.geometry),
        }))
        .sort((a, b) => a.code.localeCompare(b.code));
      await writeState(key, list);
      return list;
    } catch {
      return (await readState<GridChoice[]>(key)) ?? [];
    }
  }

  /** The buildings of the running patrol's grids (for the list and the households), kept
   * for use without a connection. */
  private async loadBuildings(): Promise<void> {
    const r = this.recorder.running;
    if (!r) return;
    const key = `buildings:${r.id}`;
    const keep = (list: BuildingInfo[]) => {
      this.buildings = new Map(list.map((b) => [b.code, b]));
      if (this.view === 'visit') this.renderMain();
    };
    const cached = await readState<BuildingInfo[]>(key);
    if (cached) keep(cached);
    void this.doors.load(r.grids).then(() => {
      if (this.view === 'visit') this.renderMain();
    });
    const boxes = this.grids.filter((g) => r.grids.includes(g.code)).map((g) => g.bbox).filter((b): b is BBox => !!b);
    if (!boxes.length) return;
    const b = boxes.reduce((a, x) => [Math.min(a[0], x[0]), Math.min(a[1], x[1]), Math.max(a[2], x[2]), Math.max(a[3], x[3])]);
    try {
      const fc = await get<Fc>(`/api/buildings?bbox=${b.map((v) => v.toFixed(6)).join(',')}`);
      const grids = new Set(r.grids);
      const list = fc.features.flatMap((f): BuildingInfo[] => {
        const p = f.properties;
        const c = centre(f.geometry);
        if (!c || !grids.has(String(p.grid_code))) return [];
        return [{ code: String(p.code), name: typeof p.name === 'string' ? p.name : null, households: Number(p.households ?? 0), grid: String(p.grid_code), lon: c[0], lat: c[1] }];
      });
      await writeState(key, list);
      keep(list);
    } catch {
      // offline: the cached list (if any) stays
    }
  }

  // ---- map ---------------------------------------------------------------------------------

  private addOverlay(): void {
    const map = this.app.map;
    const add = () => {
      if (map.getSource('tool-patrol')) return;
      map.addSource('tool-patrol', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      map.addLayer({ id: 'tool-patrol-line', type: 'line', source: 'tool-patrol', filter: ['==', ['get', 'kind'], 'track'], layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': '#d81b60', 'line-width': 4, 'line-opacity': 0.85 } });
      map.addLayer({ id: 'tool-patrol-visit', type: 'circle', source: 'tool-patrol', filter: ['==', ['get', 'kind'], 'visit'], paint: { 'circle-color': '#2e7d32', 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
      map.addLayer({ id: 'tool-patrol-incident', type: 'circle', source: 'tool-patrol', filter: ['==', ['get', 'kind'], 'incident'], paint: { 'circle-color': '#e53935', 'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
      map.addLayer({ id: 'tool-patrol-pos', type: 'circle', source: 'tool-patrol', filter: ['==', ['get', 'kind'], 'pos'], paint: { 'circle-color': '#1e88e5', 'circle-radius': 8, 'circle-stroke-color': '#fff', 'circle-stroke-width': 3 } });
      this.draw();
    };
    if (map.isStyleLoaded()) add();
    else map.once('load', add);
  }

  private scheduleDraw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  private draw(): void {
    const src = this.app.map.getSource('tool-patrol') as GeoJSONSource | undefined;
    if (!src) return;
    const r = this.recorder.running;
    const features: Feature<Geometry, Props>[] = [];
    if (r) {
      const line = this.recorder.line();
      if (line.length >= 2) features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: line }, properties: { kind: 'track' } });
      for (const [code, v] of Object.entries(r.visits)) features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [v.lon, v.lat] }, properties: { kind: 'visit', code } });
      for (const i of r.incidents) features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [i.lon, i.lat] }, properties: { kind: 'incident', code: i.id } });
      const p = this.recorder.lastSeen;
      if (p) features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [p.lon, p.lat] }, properties: { kind: 'pos' } });
    }
    src.setData({ type: 'FeatureCollection', features });
  }

  /** A tap on the map while patrolling: a building opens the visit form. */
  private click(e: MapMouseEvent, touch: boolean): boolean {
    if (!this.recorder.running || this.view === 'incident' || this.view === 'end' || this.view === 'mine') return false;
    const picked = this.app.layers.pickAt(e.point, touch ? 8 : 0);
    if (!picked || picked.layer !== 'buildings') return false;
    const p = picked.feature.properties as Props;
    const code = String(p.code);
    const known = this.buildings.get(code);
    this.visitTarget = {
      code,
      name: typeof p.name === 'string' ? p.name : (known?.name ?? null),
      households: typeof p.households === 'number' ? p.households : (known?.households ?? null),
      lon: known?.lon ?? e.lngLat.lng,
      lat: known?.lat ?? e.lngLat.lat,
    };
    this.show('visit');
    return true;
  }

  // ---- rendering ---------------------------------------------------------------------------

  private show(v: View): void {
    this.view = v;
    this.folded = false;
    this.renderAll();
  }

  private renderAll(): void {
    this.el.classList.toggle('folded', this.folded);
    this.el.dataset.view = this.view;
    this.el.dataset.running = this.recorder.running ? '1' : '0';
    this.renderStatus();
    this.renderMain();
    this.renderQueue();
    clearInterval(this.ticker);
    if (this.recorder.running) this.ticker = window.setInterval(() => this.renderStatus(), 1000);
  }

  private renderStatus(): void {
    const r = this.recorder.running;
    const c = this.outbox.counts();
    this.el.dataset.running = r ? '1' : '0';
    const net = h('span', { class: `pt-net ${this.outbox.online ? 'on' : 'off'}`, 'data-testid': 'net-status', 'data-online': String(this.outbox.online) }, this.outbox.online ? t('patrol.online') : t('patrol.offline'));
    const badge = h(
      'button',
      {
        type: 'button',
        class: `queue-badge${c.failed ? ' has-failed' : c.pending ? ' has-pending' : ''}`,
        'data-testid': 'queue-badge',
        'data-pending': c.pending,
        'data-failed': c.failed,
        'aria-expanded': String(this.queueOpen),
        onclick: () => {
          this.queueOpen = !this.queueOpen;
          this.folded = false;
          this.renderAll();
        },
      },
      c.pending || c.failed ? t('patrol.queue_badge', { pending: c.pending, failed: c.failed }) : t('patrol.queue_empty'),
      this.outbox.sending !== null ? ' ↻' : '',
    );
    const fold = h('button', { type: 'button', class: 'icon fold', 'aria-label': t('patrol.fold'), title: t('patrol.fold'), onclick: () => { this.folded = !this.folded; this.renderAll(); } }, this.folded ? '▴' : '▾');
    const mine = this.mineView.button(() => {
      if (this.view === 'mine' && this.patrols) return this.show('main');
      this.mineView.open();
      this.show('mine');
    });
    const storage = this.outbox.storageError ? h('p', { class: 'error small' }, t('patrol.storage_error', { msg: this.outbox.storageError })) : null;
    if (!r) {
      this.statusEl.replaceChildren(h('div', { class: 'patrol-line' }, h('strong', {}, t(this.patrols ? 'patrol.patrol' : 'patrol.mine')), net, mine, badge, fold));
      if (storage) this.statusEl.append(storage);
      return;
    }
    const seen = this.recorder.lastSeen;
    const gps = this.recorder.geoError
      ? h('span', { class: 'error', 'data-testid': 'gps' }, t(`patrol.${this.recorder.geoError}`))
      : seen
        ? h('span', { class: seen.accuracy_m !== null && seen.accuracy_m > MAX_ACCURACY_M ? 'error' : '', 'data-testid': 'gps' }, `GPS ±${num(seen.accuracy_m ?? NaN)} m`)
        : h('span', { class: 'muted', 'data-testid': 'gps' }, t('patrol.gps_waiting'));
    const visits = Object.keys(r.visits).length;
    this.statusEl.replaceChildren(
      h('div', { class: 'patrol-line' }, h('strong', { class: 'rec' }, `● ${r.gridNames.join('、')}`), h('span', { 'data-testid': 'patrol-elapsed' }, duration(Date.now() - Date.parse(r.startedAt))), net, mine, badge, fold),
      h(
        'div',
        { class: 'patrol-stats small' },
        h('span', { 'data-testid': 'patrol-points', 'data-value': r.points }, t('patrol.n_points', { n: r.points })),
        h('span', {}, length(r.lengthM)),
        h('span', { 'data-testid': 'patrol-visits', 'data-value': visits }, t('patrol.n_visits', { n: visits })),
        h('span', { 'data-testid': 'patrol-incidents', 'data-value': r.incidents.length }, t('patrol.n_incidents', { n: r.incidents.length })),
        gps,
      ),
    );
  }

  private renderMain(): void {
    const r = this.recorder.running;
    if (this.view === 'mine') {
      this.mainEl.replaceChildren(this.mineView.render());
      return;
    }
    if (!r) {
      this.mainEl.replaceChildren(this.startForm());
      return;
    }
    switch (this.view) {
      case 'visit':
        this.mainEl.replaceChildren(this.visitForm());
        break;
      case 'incident':
        this.mainEl.replaceChildren(this.incidentForm());
        break;
      case 'end':
        this.mainEl.replaceChildren(this.endForm());
        break;
      default:
        this.mainEl.replaceChildren(
          h(
            'div',
            { class: 'patrol-actions' },
            h('button', { type: 'button', 'data-testid': 'patrol-visit', onclick: () => { this.visitTarget = null; this.show('visit'); } }, t('patrol.visit')),
            h('button', { type: 'button', 'data-testid': 'patrol-incident', onclick: () => this.show('incident') }, t('patrol.report_incident')),
            h('button', { type: 'button', class: 'primary', 'data-testid': 'patrol-end', onclick: () => this.show('end') }, t('patrol.end_patrol')),
          ),
          h('p', { class: 'small muted hint' }, t('patrol.visit_hint')),
        );
    }
  }

  /** Runs a button's action with the button disabled; when it fails, enables the button
   * again and says why (on success the form it belongs to is replaced). */
  private async disabledWhile(button: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
    button.disabled = true;
    try {
      await action();
    } catch (e) {
      button.disabled = false;
      this.app.toast(t('ui.error', { msg: e instanceof Error ? e.message : String(e) }), 'error');
    }
  }

  private startForm(): HTMLElement {
    const sel = h(
      'select',
      { 'data-testid': 'patrol-grid', 'aria-label': t('ui.grid') },
      this.grids.map((g) => h('option', { value: g.code }, `${g.name} (${g.code})`)),
    );
    const last = localStorage.getItem(`wangge.patrol.grid.${this.app.me.username}`);
    if (last && this.grids.some((g) => g.code === last)) sel.value = last;
    const start = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'patrol-start',
        disabled: this.grids.length === 0,
        onclick: async () => {
          const g = this.grids.find((x) => x.code === sel.value);
          if (!g) return;
          localStorage.setItem(`wangge.patrol.grid.${this.app.me.username}`, g.code);
          await this.disabledWhile(start, async () => {
            await this.recorder.start([g.code], [g.name]);
            this.view = 'main';
            this.renderAll();
            if (g.bbox) this.app.map.fitBounds([g.bbox[0], g.bbox[1], g.bbox[2], g.bbox[3]], { padding: 40, maxZoom: 18, duration: 0 });
            void this.loadBuildings();
          });
        },
      },
      t('patrol.start_patrol'),
    );
    return h(
      'div',
      { class: 'patrol-start' },
      this.grids.length ? h('label', { class: 'small' }, `${t('patrol.patrol_grid')} `, sel) : h('p', { class: 'muted small' }, t('patrol.no_grids')),
      start,
      'geolocation' in navigator ? null : h('p', { class: 'error small' }, t('patrol.no_geolocation')),
    );
  }

  private visitForm(): HTMLElement {
    const r = this.recorder.running!;
    const back = h('button', { type: 'button', onclick: () => this.show('main') }, t('patrol.back'));
    const target = this.visitTarget;
    if (!target) {
      // No building tapped: a list of the patrol's buildings, nearest first.
      const here = this.recorder.lastSeen;
      const filter = h('input', { type: 'search', placeholder: t('patrol.filter_buildings'), class: 'filter' });
      const list = h('ul', { class: 'building-pick', 'data-testid': 'visit-list' });
      const fill = () => {
        const q = filter.value.trim().toLowerCase();
        const all = [...this.buildings.values()]
          .filter((b) => !q || b.code.toLowerCase().includes(q) || (b.name ?? '').toLowerCase().includes(q))
          .map((b) => ({ b, d: here ? metres([here.lon, here.lat], [b.lon, b.lat]) : 0 }))
          .sort((a, b) => a.d - b.d || a.b.code.localeCompare(b.b.code))
          .slice(0, 20);
        list.replaceChildren(
          ...all.map(({ b, d }) =>
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'link', 'data-building': b.code, onclick: () => { this.visitTarget = { code: b.code, name: b.name, households: b.households, lon: b.lon, lat: b.lat }; this.renderMain(); } },
                `${b.name ?? b.code}`,
                h('span', { class: 'muted small' }, ` ${t('ui.households_count', { n: num(b.households) })}${here ? ` · ${length(d)}` : ''}${r.visits[b.code] ? ' ✓' : ''}`),
              ),
            ),
          ),
        );
        if (!all.length) list.append(h('li', { class: 'muted small' }, t('patrol.visit_hint')));
      };
      filter.addEventListener('input', fill);
      fill();
      return h('div', { class: 'patrol-form' }, h('h3', {}, t('patrol.visit')), h('p', { class: 'small muted' }, t('patrol.visit_hint')), filter, list, h('div', { class: 'buttons' }, back));
    }
    const known = this.buildings.get(target.code);
    const outside = this.buildings.size > 0 && !known;
    const max = target.households ?? known?.households ?? null;
    const prev = r.visits[target.code];
    // With the building's doors known, a checkbox per household, none ticked at the start;
    // else a count, starting at none.
    const doors = this.doors.of(target.code);
    const picker = doors ? doorPicker(doors, prev?.doors ?? [], max) : null;
    const input = h('input', { type: 'number', min: 0, ...(max !== null ? { max } : {}), step: 1, value: String(prev?.households ?? 0), inputmode: 'numeric', 'data-testid': 'visit-households' });
    const save = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'visit-save',
        disabled: outside,
        onclick: async () => {
          const ticked = picker ? picker.ticked() : null;
          let n = ticked ? ticked.length : Math.round(Number(input.value));
          if (!Number.isFinite(n) || n < 0) n = 0;
          if (max !== null && !ticked) n = Math.min(n, max);
          // The form starts at none (or at what was recorded before): only households the
          // patrol actually reached count, and saving none takes the building off the list.
          if (n === 0) await this.recorder.unvisit(target.code);
          else await this.recorder.visit(target.code, { households: n, ...(ticked ? { doors: ticked } : {}), ...(max !== null ? { of: max } : {}), ...(target.name ? { name: target.name } : {}), lon: target.lon, lat: target.lat });
          this.app.toast(t('patrol.visit_saved', { name: target.name ?? target.code, n }));
          this.visitTarget = null;
          this.show('main');
        },
      },
      t('ui.save'),
    );
    return h(
      'div',
      { class: 'patrol-form', 'data-testid': 'visit-form', 'data-building': target.code },
      h('h3', {}, `${t('patrol.visit')}: ${target.name ?? target.code}`),
      h('p', { class: 'small muted' }, `${target.code}${max !== null ? ` · ${t('ui.households_count', { n: num(max) })}` : ''}`),
      outside ? h('p', { class: 'error small' }, t('patrol.visit_outside')) : picker ? picker.el : h('label', {}, `${t('patrol.households_reached')} `, input),
      h(
        'div',
        { class: 'buttons' },
        save,
        prev ? h('button', { type: 'button', onclick: async () => { await this.recorder.unvisit(target.code); this.visitTarget = null; this.show('main'); } }, t('patrol.remove')) : null,
        h('button', { type: 'button', onclick: () => { this.visitTarget = null; this.show('main'); } }, t('ui.cancel')),
        h('button', { type: 'button', class: 'link', onclick: () => this.app.open({ layer: 'buildings', props: { code: target.code, ...(target.name ? { name: target.name } : {}), ...(max !== null ? { households: max } : {}) } }) }, t('patrol.details')),
      ),
    );
  }

  private incidentForm(): HTMLElement {
    const cat = h('select', { 'data-testid': 'incident-category' }, CATEGORIES.map((c) => h('option', { value: c.id }, named(c))));
    const text = h('textarea', { rows: 3, maxlength: 2000, 'data-testid': 'incident-description', placeholder: t('patrol.incident_placeholder') });
    const { file, thumbs } = photoPicker({
      photos: () => this.photos,
      max: PHOTOS_MAX,
      accept: PHOTO_TYPES.join(','),
      testid: 'incident-photo',
      thumbsTestid: 'incident-thumbs',
      toast: (msg) => this.app.toast(msg, 'error'),
    });
    const where = () => {
      const seen = this.recorder.lastSeen;
      if (seen && !this.useMapCentre) return { lon: seen.lon, lat: seen.lat, from: t('patrol.at_my_position', { acc: num(seen.accuracy_m ?? NaN) }) };
      const c = this.app.map.getCenter();
      return { lon: c.lng, lat: c.lat, from: t('patrol.at_map_centre') };
    };
    const place = h('p', { class: 'small muted', 'data-testid': 'incident-where' }, where().from);
    const toggle = h('button', { type: 'button', class: 'link small', onclick: () => { this.useMapCentre = !this.useMapCentre; place.textContent = where().from; } }, t('patrol.switch_position'));
    const error = h('p', { class: 'error small' });
    const submit = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'incident-submit',
        onclick: async () => {
          const description = text.value.trim();
          if (!description) {
            error.textContent = t('patrol.incident_needs_text');
            text.focus();
            return;
          }
          submit.disabled = true;
          try {
            const at = where();
            const photos = await Promise.all(this.photos.map(async (p) => ({ blob: p.blob, sha256: await sha256(p.blob) })));
            await this.recorder.incident({ category: cat.value, description, lon: at.lon, lat: at.lat, photos });
            this.photos.forEach((p) => URL.revokeObjectURL(p.url));
            this.photos = [];
            this.useMapCentre = false;
            this.app.toast(t('patrol.incident_queued'));
            this.show('main');
          } catch (e) {
            submit.disabled = false;
            error.textContent = t('ui.error', { msg: e instanceof Error ? e.message : String(e) });
          }
        },
      },
      t('patrol.report'),
    );
    return h(
      'div',
      { class: 'patrol-form', 'data-testid': 'incident-form' },
      h('h3', {}, t('patrol.report_incident')),
      h('label', { class: 'small' }, `${t('patrol.category')} `, cat),
      text,
      h('label', { class: 'small file' }, `${t('patrol.photos')} `, file),
      thumbs,
      h('div', { class: 'where' }, place, toggle),
      error,
      h('div', { class: 'buttons' }, submit, h('button', { type: 'button', onclick: () => { this.photos.forEach((p) => URL.revokeObjectURL(p.url)); this.photos = []; this.show('main'); } }, t('ui.cancel'))),
    );
  }

  private endForm(): HTMLElement {
    const r = this.recorder.running!;
    const back = h('button', { type: 'button', onclick: () => this.show('main') }, t('patrol.continue_patrol'));
    if (r.points === 0) {
      return h(
        'div',
        { class: 'patrol-form' },
        h('p', { class: 'error' }, t('patrol.no_points')),
        h('div', { class: 'buttons' }, back, h('button', { type: 'button', 'data-testid': 'patrol-discard', onclick: async () => { await this.recorder.discard(); this.show('main'); } }, t('patrol.discard_patrol'))),
      );
    }
    const notes = h('textarea', { rows: 2, maxlength: 4000, placeholder: t('patrol.notes'), 'data-testid': 'patrol-notes' });
    const visits = Object.values(r.visits).reduce((s, v) => s + v.households, 0);
    const confirm = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'patrol-end-confirm',
        onclick: () =>
          this.disabledWhile(confirm, async () => {
            await this.recorder.end(notes.value);
            this.app.toast(t('patrol.patrol_ended', { n: this.outbox.counts().pending }));
            this.show('main');
          }),
      },
      t('patrol.end_patrol'),
    );
    return h(
      'div',
      { class: 'patrol-form', 'data-testid': 'end-form' },
      h('h3', {}, t('patrol.end_patrol_q')),
      h('p', { class: 'small' }, t('patrol.end_summary', { points: r.points, length: length(r.lengthM), visits: Object.keys(r.visits).length, households: visits, incidents: r.incidents.length, chunks: r.nextSeq + (r.buffer.length ? 1 : 0) })),
      notes,
      h('div', { class: 'buttons' }, confirm, back),
    );
  }

  private renderQueue(): void {
    this.queueEl.hidden = !this.queueOpen;
    if (!this.queueOpen) return;
    const ob = this.outbox;
    const now = Date.now();
    const row = (i: Item) => {
      const state = ob.sending === i.seq ? 'sending' : i.status;
      const wait = i.status === 'pending' && i.nextAt > now ? ` · ${t('patrol.retry_in', { s: Math.ceil((i.nextAt - now) / 1000) })}` : '';
      return h(
        'li',
        { class: `queue-item ${state}`, 'data-kind': i.kind, 'data-status': state, 'data-seq': i.seq ?? '' },
        h('span', { class: 'q-state' }, state === 'failed' ? '⚠' : state === 'sending' ? '↻' : '○'),
        h('span', { class: 'q-label' }, label(i.label), h('span', { class: 'muted small' }, ` ${when(i.created)}${i.attempts ? ` · ${t('patrol.attempts', { n: i.attempts })}` : ''}${wait}`)),
        i.error ? h('div', { class: `small ${i.status === 'failed' ? 'error' : 'muted'}` }, `${i.httpStatus ? `HTTP ${i.httpStatus}: ` : ''}${i.error}`) : null,
        i.status === 'failed'
          ? h(
              'div',
              { class: 'q-actions' },
              h('button', { type: 'button', onclick: () => void ob.retryNow(i.seq) }, t('patrol.retry')),
              h('button', { type: 'button', onclick: () => { if (i.seq !== undefined) void ob.discard(i.seq); } }, t('patrol.discard')),
            )
          : null,
      );
    };
    const sentRow = (s: Sent) =>
      h(
        'li',
        { class: 'queue-sent', 'data-kind': s.kind, 'data-replayed': String(s.replayed), 'data-status': 'sent' },
        h('span', { class: 'q-state ok' }, '✓'),
        h('span', { class: 'q-label' }, label(s.label), h('span', { class: 'muted small' }, ` ${when(s.at)} · ${s.replayed ? t('patrol.sent_again') : `HTTP ${s.status}`}`)),
      );
    const c = ob.counts();
    this.queueEl.replaceChildren();
    append(
      this.queueEl,
      h(
        'div',
        { class: 'queue-head' },
        h('strong', {}, t('patrol.queue')),
        h('span', { class: 'small muted' }, ` ${t('patrol.queue_counts', { pending: c.pending, failed: c.failed, sent: c.sent })}`),
        h('button', { type: 'button', 'data-testid': 'queue-sync', disabled: !ob.online, onclick: () => void ob.retryNow() }, t('patrol.send_now')),
      ),
      ob.items.length ? h('ul', { class: 'queue-list', 'data-testid': 'queue-items' }, ob.items.map(row)) : h('p', { class: 'small muted' }, t('patrol.queue_nothing')),
      ob.others ? h('p', { class: 'small muted' }, t('patrol.queue_others', { n: ob.others })) : null,
      ob.sent.length ? h('details', {}, h('summary', { class: 'small' }, t('patrol.sent_recently', { n: ob.sent.length })), h('ul', { class: 'queue-list', 'data-testid': 'queue-sent' }, ob.sent.slice(0, 50).map(sentRow))) : null,
      h('p', { class: 'small muted' }, t('patrol.queue_help', { chunk: CHUNK })),
    );
  }
}

/** The bar of a staff member who logs no patrols (a grid chief linked to a staff record)
 * once incidents are assigned to them: my incidents, started and resolved from the phone
 * through the outbox. Nothing is added for an account with none. */
export async function assigneeMode(app: PatrolHost, parent: HTMLElement): Promise<PatrolMode | null> {
  try {
    const fc = await get<Fc>('/api/incidents?open=true&mine=true&limit=10000');
    if (!fc.features.some((f) => f.properties.status === 'assigned' || f.properties.status === 'in_progress')) return null;
  } catch {
    return null;
  }
  return new PatrolMode(app, parent, false);
}

declare global {
  interface Window {
    /** Patrol mode's parts, for the browser tests. */
    __wanggePatrol?: { outbox: Outbox; recorder: Recorder; mine: MyIncidents; mode: PatrolMode };
  }
}
