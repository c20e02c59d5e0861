// The state of the planner's panel and what it does: today's coverage for a setting, the
// unsaved what-if scenario and its figures, siting proposals, isochrones and the selected
// station; it fills the coverage layers and owns the map tool that places and moves
// stations. One planner per app, so closing and reopening the panel keeps the work.
import type { MapMouseEvent } from 'maplibre-gl';
import { cachedCollection, URLS, type Feat } from '../api';
import { bboxOf } from '../geo';
import { onLang } from '../i18n';
import type { AppApi, MapTool } from '../ui/panels';
import * as cov from './api';
import { setFlags } from './flags';
import { gapFeatures, gridFeatures, planFeatures, type PlanItem } from './mapdata';
import { Listeners } from '../listeners';

export type Mode = 'idle' | 'place' | 'move';

/** A station picked on the map: one of today's, or one the scenario adds. */
export interface Picked {
  code: string;
  kind: string;
  name: string;
  at: [number, number];
  planned: boolean;
}

export class Planner {
  setting: cov.Setting = { mode: 'one', kind: 'party_mass_centre', kinds: [...cov.ONE_PLUS_EIGHT], minutes: 10, speed: null, community: null };
  /** Whether the kinds are the "1+8" system, all of them to be reached. */
  p18 = false;
  /** Kind of stations placed on the map and of siting. */
  newKind = 'party_mass_centre';
  k = 3;
  base: cov.CoverageReply | null = null;
  scenario: cov.ScenarioReply | null = null;
  plan: PlanItem[] = [];
  sites: cov.SitingReply | null = null;
  iso = new Map<string, Feat>();
  selected: Picked | null = null;
  /** The communities to choose from (those of the last reply for all of them). */
  communities: { code: string; name: string }[] = [];
  /** With a community chosen and several kinds counted: each kind's figures per grid of the
   * community, today (one `GET /api/coverage` per kind). */
  perKind: { kind: string; grids: cov.Named[] }[] = [];
  /** The coverage grid last clicked. */
  grid: { name: string; covered: number; residents: number; pct: number | null } | null = null;
  mode: Mode = 'idle';
  /** What is being computed (a message key), or null. */
  busy: 'computing' | null = null;
  error: string | null = null;
  private token = 0;
  private seq = 0;
  private readonly watchers = new Listeners();

  constructor(readonly app: AppApi) {
    onLang(() => this.changed());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.mode !== 'idle') this.setMode('idle');
    });
  }

  onChange(f: () => void): () => void {
    return this.watchers.add(f);
  }

  private changed(): void {
    this.watchers.call();
  }

  setMode(m: Mode): void {
    this.mode = m;
    this.changed();
  }

  /** Runs `work` as the latest computation: an older one that ends later is ignored. */
  private async run(work: (isLatest: () => boolean) => Promise<void>): Promise<void> {
    const token = ++this.token;
    const latest = () => token === this.token;
    this.busy = 'computing';
    this.error = null;
    this.changed();
    try {
      await work(latest);
    } catch (e) {
      if (latest()) this.error = e instanceof Error ? e.message : String(e);
    }
    if (latest()) {
      this.busy = null;
      this.changed();
    }
  }

  /** Today's coverage for the setting, then the scenario's if there is one. */
  refresh(): Promise<void> {
    if (!cov.kindsOf(this.setting).length) {
      this.error = 'kind_one_needed';
      this.changed();
      return Promise.resolve();
    }
    // The zone's communities are coloured when the server leaves its grids out (a city):
    // their shapes are asked alongside the figures rather than after them.
    if (!this.setting.community) void cachedCollection(URLS.communities).catch(() => undefined);
    return this.run(async (latest) => {
      const [base, perKind] = await Promise.all([cov.coverage(this.setting), this.byKind()]);
      const sc = this.plan.length ? await cov.scenario(this.setting, this.changes()) : null;
      if (!latest()) return;
      this.base = base;
      this.perKind = perKind;
      this.scenario = sc;
      if (!this.setting.community) this.communities = base.communities.map((c) => ({ code: c.code, name: c.name }));
      await this.draw();
    });
  }

  /** Each counted kind's figures per grid of the chosen community, when there are several
   * kinds (with one, the setting's own figures are that kind's). */
  private byKind(): Promise<{ kind: string; grids: cov.Named[] }[]> {
    const kinds = cov.kindsOf(this.setting);
    if (!this.setting.community || kinds.length < 2) return Promise.resolve([]);
    return Promise.all(kinds.map(async (kind) => ({ kind, grids: (await cov.coverage({ ...this.setting, mode: 'one', kind })).grids2 })));
  }

  /** The scenario's figures again, after its changes changed. */
  rescore(): Promise<void> {
    return this.run(async (latest) => {
      const sc = this.plan.length ? await cov.scenario(this.setting, this.changes()) : null;
      if (!latest()) return;
      this.scenario = sc;
      await this.draw();
    });
  }

  /** The changes as the server takes them. */
  changes(): cov.Change[] {
    return this.plan.map((p): cov.Change => {
      if (p.op === 'add') return { op: 'add', kind: p.kind, lon: p.at[0], lat: p.at[1], code: p.code, ...(p.name ? { name: p.name } : {}) };
      if (p.op === 'move') return { op: 'move', code: p.code, lon: p.at[0], lat: p.at[1] };
      return { op: 'remove', code: p.code };
    });
  }

  /** Fills the coverage layers from the state. */
  async draw(): Promise<void> {
    const { layers, me } = this.app;
    setFlags({ scenario: this.plan.length > 0, isoMinutes: this.setting.minutes });
    if (this.base) {
      const detail = this.scenario?.after_detail ?? this.base;
      // A city seen whole has its grids left out of the answer: its communities are
      // coloured instead, until one is chosen (on the map or in the form).
      const [grids, gaps] = await Promise.all([
        detail.grids2_omitted ? gridFeatures(detail.communities, null, 'community') : gridFeatures(detail.grids2, this.setting.community),
        gapFeatures(me, this.base, this.scenario),
      ]);
      layers.setData('coverage', grids);
      layers.setData('coverage_gaps', gaps);
    }
    layers.setData('coverage_plan', planFeatures(this.plan, this.sites));
    layers.setData('coverage_iso', { type: 'FeatureCollection', features: [...this.iso.values()] });
  }

  /** Adds a station of `newKind` at a point to the scenario. */
  add(at: [number, number], kind = this.newKind): void {
    const code = `WI-${Date.now().toString(36).toUpperCase()}-${++this.seq}`;
    const item: PlanItem = { op: 'add', code, kind, name: '', at };
    this.plan.push(item);
    this.select({ code, kind, name: '', at, planned: true });
    void this.rescore();
  }

  /** Moves the selected station (today's or a planned one) to a point. */
  moveSelected(at: [number, number]): void {
    const s = this.selected;
    if (!s) return;
    const planned = this.plan.find((p) => p.code === s.code && p.op !== 'remove');
    if (planned) planned.at = at;
    else this.plan.push({ op: 'move', code: s.code, kind: s.kind, name: s.name, at, from: s.at });
    this.selected = { ...s, at, planned: true };
    this.mode = 'idle';
    // A shown isochrone follows its station to the new place.
    if (this.iso.has(s.code)) void this.showIso(s.code, s.kind, at).catch((e: unknown) => this.app.toast(String(e), 'error'));
    void this.rescore();
  }

  /** Removes one of today's stations in the scenario (dropping a planned move of it). */
  removeSelected(): void {
    const s = this.selected;
    if (!s) return;
    const from = this.plan.find((p) => p.code === s.code && p.op === 'move')?.from ?? s.at;
    this.plan = this.plan.filter((p) => p.code !== s.code);
    this.plan.push({ op: 'remove', code: s.code, kind: s.kind, name: s.name, at: from });
    void this.rescore();
  }

  /** Takes a change out of the scenario. */
  drop(code: string): void {
    this.plan = this.plan.filter((p) => p.code !== code);
    if (this.selected?.code === code) this.selected = null;
    void this.rescore();
  }

  discard(): void {
    this.plan = [];
    this.selected = null;
    void this.rescore();
  }

  /** Turns the scenario into real stations; today's coverage is then computed again. */
  async save(): Promise<string[]> {
    const r = await cov.saveScenario(this.setting, this.changes());
    this.plan = [];
    this.selected = null;
    this.sites = null;
    await this.app.layers.reload(['stations'], ['/api/stations']);
    await this.refresh();
    return r.stations;
  }

  /** Proposes `k` sites for `newKind` (keeping today's stations). */
  siting(): Promise<void> {
    return this.run(async (latest) => {
      const r = await cov.siting(this.setting, this.newKind, this.k);
      if (!latest()) return;
      this.sites = r;
      await this.draw();
    });
  }

  /** Adds proposed sites to the scenario. */
  adopt(indices: number[]): void {
    const s = this.sites;
    if (!s) return;
    for (const i of indices) {
      const p = s.picks[i];
      if (p) this.plan.push({ op: 'add', code: `WI-${Date.now().toString(36).toUpperCase()}-${++this.seq}`, kind: s.kind, name: '', at: [p.lon, p.lat] });
    }
    this.sites = { ...s, picks: s.picks.filter((_, i) => !indices.includes(i)) };
    void this.rescore();
  }

  select(p: Picked | null): void {
    this.selected = p;
    this.changed();
  }

  /** Shows or hides the isochrone of a station: of today's station from where it stands, of
   * a new or moved one from where the scenario puts it (`at`). */
  async toggleIso(code: string, kind: string, at?: [number, number]): Promise<void> {
    if (this.iso.delete(code)) {
      await this.draw();
      this.changed();
      return;
    }
    await this.showIso(code, kind, at);
  }

  private async showIso(code: string, kind: string, at?: [number, number]): Promise<void> {
    const f = await cov.isochrone(code, this.setting, at);
    this.iso.set(code, { ...f, properties: { ...f.properties, station: code, kind } });
    await this.draw();
    this.changed();
  }

  clearIso(): void {
    this.iso.clear();
    void this.draw().then(() => this.changed());
  }

  /** The map tool while the panel is open: it places, moves and picks stations. */
  tool(): MapTool {
    return {
      click: (e) => this.click(e),
      cursor: (e) => (this.mode !== 'idle' ? 'crosshair' : this.stationAt(e) ? 'pointer' : null),
    };
  }

  private click(e: MapMouseEvent): boolean {
    const at: [number, number] = [e.lngLat.lng, e.lngLat.lat];
    if (this.mode === 'place') {
      this.mode = 'idle';
      this.add(at);
      return true;
    }
    if (this.mode === 'move') {
      this.moveSelected(at);
      return true;
    }
    const s = this.stationAt(e);
    if (s) this.select(s);
    else this.pickGrid(e);
    // While the panel is open the map belongs to it: no other panel replaces it.
    return true;
  }

  /** Shows the figures of the coverage grid under the mouse. */
  private pickGrid(e: MapMouseEvent): void {
    const { map } = this.app;
    // A city seen whole is drawn on the communities' tiles: only those holding the figures
    // count, and their figures are the download's.
    const st = this.app.layers.states.get('coverage');
    const found = map.getLayer('coverage-fill') ? map.queryRenderedFeatures(e.point, { layers: ['coverage-fill'] }) : [];
    const f = st?.city ? found.find((x) => x.state?.coverage === true) : found[0];
    const p = f && st?.city ? this.app.layers.fullProps(st, f) : f?.properties;
    if (p?.level === 'community' && !this.setting.community) {
      // A city seen whole: a click on a community opens its grids, and the map goes there.
      this.setting.community = String(p.code);
      const shape = this.app.layers.data('coverage')?.features.find((x) => x.properties.code === p.code);
      const b = shape ? bboxOf(shape.geometry) : null;
      if (b) map.fitBounds([b[0], b[1], b[2], b[3]], { padding: 40, maxZoom: 16, duration: 600 });
      this.grid = null;
      void this.refresh();
      return;
    }
    this.grid = p ? { name: String(p.name), covered: Number(p.residents_covered), residents: Number(p.residents), pct: p.pct === null || p.pct === undefined ? null : Number(p.pct) } : null;
    this.changed();
  }

  /** The scenario's or today's station under the mouse. */
  private stationAt(e: MapMouseEvent): Picked | null {
    const { map } = this.app;
    const box: [[number, number], [number, number]] = [[e.point.x - 6, e.point.y - 6], [e.point.x + 6, e.point.y + 6]];
    const ids = ['coverage_plan-circle', 'coverage_plan-removed'].filter((id) => map.getLayer(id));
    const mine = ids.length ? map.queryRenderedFeatures(box, { layers: ids }) : [];
    const item = mine.map((f) => this.plan.find((p) => p.code === f.properties.code)).find((p) => p);
    if (item) return { code: item.code, kind: item.kind, name: item.name, at: item.at, planned: true };
    const today = map.getLayer('stations-circle') ? map.queryRenderedFeatures(box, { layers: ['stations-circle'] })[0] : undefined;
    if (today?.geometry.type !== 'Point') return null;
    const p = today.properties;
    const [lon, lat] = today.geometry.coordinates as [number, number];
    return { code: String(p.code), kind: String(p.kind), name: String(p.name ?? p.code), at: [lon, lat], planned: false };
  }
}

const planners = new WeakMap<AppApi, Planner>();

/** The app's planner (made on first use). */
export function plannerOf(app: AppApi): Planner {
  let p = planners.get(app);
  if (!p) {
    p = new Planner(app);
    planners.set(app, p);
  }
  return p;
}
