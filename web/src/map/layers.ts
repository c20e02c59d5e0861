// Puts the registered layers on the map: adds sources (GeoJSON downloads or vector tiles),
// inserts style layers in registry order, keeps visibility, legend filters and options,
// reloads data after edits, answers "what is under this pixel" and highlights a feature.
// A hidden GeoJSON layer is downloaded only when it is first shown (on a city's zone the
// party, week and incident layers are megabytes and seconds nobody asked for), and after
// an edit or an option change only once it is shown again.

import type {
  ExpressionSpecification,
  FilterSpecification,
  GeoJSONSource,
  LayerSpecification,
  Map as MlMap,
  MapGeoJSONFeature,
  PointLike,
  VectorTileSource,
} from 'maplibre-gl';
import { ApiError, cachedCollection, invalidate, type Fc, type Me, can } from '../api';
import { lang, t } from '../i18n';
import type { LayerContext, LayerDef, StyleLayer } from './registry';
import { Listeners } from '../listeners';

export type Status = 'loading' | 'ready' | 'unavailable' | 'offline' | 'error';

/** The live state of one registered layer. */
export interface LayerState {
  def: LayerDef;
  status: Status;
  message?: string;
  /** Features loaded (GeoJSON layers). */
  count?: number;
  visible: boolean;
  /** Legend toggles switched off, as `key=value`. */
  off: Set<string>;
  options: Record<string, string>;
  /** The last GeoJSON download. */
  data?: Fc;
  /** A hidden GeoJSON layer whose data must be downloaded (again) when it is shown; it is
   * `ready` meanwhile (ready to be shown), and `loading` once shown until downloaded. */
  stale?: boolean;
  /** Ids of the style layers currently in the map. */
  styleIds: string[];
  /** The data is a city's communities, drawn on the communities' tiles (see `place`). */
  city?: boolean;
  /** Community codes whose feature state this layer has set. */
  painted?: Set<string>;
}

/** A clicked feature. */
export interface Picked {
  layer: string;
  feature: MapGeoJSONFeature;
}

const EMPTY: Fc = { type: 'FeatureCollection', features: [] };

/** The layer whose vector tiles carry the communities' shapes. */
const COMMUNITIES = 'communities';

/** Where a style layer goes in the drawing order: shapes in the layers' `order`, then every
 * label (and the style layers of an `overLabels` layer) in `order` above all shapes. */
function rankOf(def: LayerDef, s: StyleLayer): number {
  return (s.type === 'symbol' || def.overLabels ? 1e6 : 0) + def.order;
}

/** Whether a download is a city's communities with their figures (party cells, the week's
 * or the planner's figures on a city seen whole). */
function allCommunities(data: Fc): boolean {
  return data.features.length > 0 && data.features.every((f) => f.properties.kind === 'community' || f.properties.level === 'community');
}

/** An expression (or a paint object of them) reading a layer's feature state where it read a
 * property: `['get', k]` becomes `['feature-state', 'ns:k']` (and `['has', k]` a test of that
 * state). */
function fromState(e: unknown, ns: string): unknown {
  if (e !== null && typeof e === 'object' && !Array.isArray(e)) return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, fromState(v, ns)]));
  if (!Array.isArray(e)) return e;
  if (e.length === 2 && typeof e[1] === 'string') {
    if (e[0] === 'get') return ['feature-state', `${ns}:${e[1]}`];
    if (e[0] === 'has') return ['!=', ['feature-state', `${ns}:${e[1]}`], null];
  }
  if (e[0] === 'literal') return e;
  return e.map((x) => fromState(x, ns));
}

/** Replaces `{bbox}` by the scope box grown by a quarter on each side, or drops the
 * parameter when the account has no box. */
export function expandUrl(url: string, bbox: Me['bbox']): string {
  if (!url.includes('{bbox}')) return url;
  if (!bbox) return url.replace(/[?&]bbox=\{bbox\}/, '').replace('{bbox}', '');
  const [w, s, e, n] = bbox;
  const dx = (e - w) / 4;
  const dy = (n - s) / 4;
  const b = [w - dx, s - dy, e + dx, n + dy].map((v) => v.toFixed(6)).join(',');
  return url.replace('{bbox}', b);
}

/** Replaces `{key}` by the (URL-encoded) value of the layer's option `key`. */
export function withOptions(url: string, options: Record<string, string>): string {
  return url.replace(/\{(\w+)\}/g, (m, k: string) => (k in options ? encodeURIComponent(options[k] ?? '') : m));
}

export class MapLayers {
  readonly states = new Map<string, LayerState>();
  private readonly changes = new Listeners();
  private selected: { layer: string; key: string | number } | null = null;
  private reloads = 0;

  constructor(
    readonly map: MlMap,
    readonly me: Me,
    defs: LayerDef[],
  ) {
    for (const def of defs) {
      if (def.requires && !can(me, def.requires[0], def.requires[1])) continue;
      const options: Record<string, string> = {};
      for (const o of def.options ?? []) options[o.key] = localStorage.getItem(`wangge.opt.${def.id}.${o.key}`) ?? o.initial;
      this.states.set(def.id, {
        def,
        status: 'loading',
        visible: (localStorage.getItem(`wangge.visible.${def.id}`) ?? (def.hidden ? '0' : '1')) === '1',
        off: new Set(),
        options,
        styleIds: [],
      });
    }
  }

  /** Called whenever a layer's status, visibility or options change (the legend listens). */
  onChange(f: () => void): () => void {
    return this.changes.add(f);
  }

  private changed(): void {
    this.changes.call();
  }

  sourceId(id: string): string {
    return `src-${id}`;
  }

  /** The vector tile sources of a tile layer: its shapes first, then its label points when
   * it has them (`labels`), each with its source id, tile layer and the MVT layer inside;
   * none for other layers. */
  private tileSources(def: LayerDef): { id: string; layer: string; sourceLayer: string }[] {
    if (def.source.kind !== 'tiles') return [];
    const out = [{ id: this.sourceId(def.id), layer: def.source.layer, sourceLayer: def.source.sourceLayer }];
    if (def.labels?.kind === 'tiles') out.push({ id: `${this.sourceId(def.id)}-labels`, layer: def.labels.layer, sourceLayer: def.labels.sourceLayer });
    return out;
  }

  private ctx(st: LayerState): LayerContext {
    return { me: this.me, lang: lang(), t, option: (k) => st.options[k] ?? '' };
  }

  /** Adds every layer; resolves when each has loaded or failed. Layers that could not load
   * for want of a connection load again as soon as the browser is back online. */
  async start(): Promise<void> {
    window.addEventListener('online', () => {
      for (const st of this.states.values()) if (st.status === 'offline') void this.load(st);
    });
    await Promise.all([...this.states.values()].map((st) => this.loadOrDefer(st)));
  }

  /** Loads a layer now, or, for a hidden GeoJSON layer, marks it to be loaded when shown
   * (its source and style layers are put in place, empty, so the drawing order holds). */
  private async loadOrDefer(st: LayerState): Promise<void> {
    if (st.visible || st.def.source.kind !== 'geojson') return this.load(st);
    st.stale = true;
    if (st.status === 'loading') st.status = 'ready';
    const src = this.sourceId(st.def.id);
    if (!this.map.getSource(src)) {
      this.addGeojson(src, EMPTY, st.def);
      this.addStyles(st);
    }
    this.changed();
  }

  /** Downloads GeoJSON layers again (after an edit); `prefixes` limit which URLs are dropped
   * from the shared cache, e.g. `/api/grids`. */
  async reload(ids: string[], prefixes: string[] = []): Promise<void> {
    invalidate(...prefixes);
    await Promise.all(
      ids.map((id) => this.states.get(id)).filter((s): s is LayerState => !!s).map((st) => this.loadOrDefer(st)),
    );
  }

  /** The lowest zoom at which any of a layer's style layers is drawn. */
  private drawnFrom(st: LayerState): number {
    return Math.min(...st.def.styles(this.ctx(st)).map((s) => (s as { minzoom?: number }).minzoom ?? 0));
  }

  /** Tile layers not drawn at the map's zoom: their source is added once the map reaches
   * a zoom where they are drawn (see `load`). */
  private waiting = new Set<LayerState>();

  /** Adds the tile layers the map has zoomed in far enough for. */
  private zoomed = (): void => {
    const z = this.map.getZoom();
    for (const st of [...this.waiting]) {
      if (z < this.drawnFrom(st)) continue;
      this.waiting.delete(st);
      void this.load(st);
    }
  };

  private async load(st: LayerState): Promise<void> {
    const { def } = st;
    st.stale = false;
    const src = this.sourceId(def.id);
    if (def.source.kind === 'tiles') {
      const sources = this.tileSources(def);
      if (this.map.getSource(src)) {
        // After an edit: fetch the TileJSON again (its tile URLs should name the server's
        // cache generation) and drop every tile MapLibre holds.
        const n = ++this.reloads;
        for (const s of sources) (this.map.getSource(s.id) as VectorTileSource | undefined)?.setUrl(`/tiles/${s.layer}.json?reload=${n}`);
      } else if (this.map.getZoom() < this.drawnFrom(st)) {
        // Not drawn at this zoom (buildings on a city seen whole): no TileJSON, no tiles and
        // no frames for it until the map gets there. The layer is ready meanwhile.
        if (!this.waiting.size) this.map.on('zoomend', this.zoomed);
        this.waiting.add(st);
        st.status = 'ready';
        this.changed();
        return;
      } else {
        for (const s of sources) this.map.addSource(s.id, { type: 'vector', url: `/tiles/${s.layer}.json`, promoteId: def.key ?? 'code' });
      }
      this.addStyles(st);
      st.status = 'ready';
    } else if (def.source.kind === 'local') {
      const data = st.data ?? EMPTY;
      this.place(st, data);
      st.count = data.features.length;
      st.status = 'ready';
    } else {
      const got = await this.download(st);
      if (!got) return;
      this.put(st, got);
    }
    this.changed();
  }

  /** A GeoJSON layer's download (`null` when an option changed meanwhile: the load that
   * change started wins). */
  private async download(st: LayerState): Promise<{ data: Fc } | { error: unknown } | null> {
    const { def } = st;
    if (def.source.kind !== 'geojson') return null;
    const url = withOptions(expandUrl(def.source.url, this.me.bbox), st.options);
    try {
      const data = def.source.load ? await def.source.load(st.options) : await cachedCollection(url);
      if (withOptions(expandUrl(def.source.url, this.me.bbox), st.options) !== url) return null;
      return { data };
    } catch (error) {
      return { error };
    }
  }

  /** Puts a download into the layer's source and shows its style layers if it is visible
   * (a layer switched on is shown only now, with its data: no frame of it empty). */
  private put(st: LayerState, got: { data: Fc } | { error: unknown }): void {
    const { def } = st;
    const src = this.sourceId(def.id);
    if ('data' in got) {
      const { data } = got;
      st.data = data;
      st.count = data.features.length;
      this.place(st, data, def.attribution?.(data));
      st.status = 'ready';
      st.message = undefined;
    } else {
      const e = got.error;
      if (e instanceof ApiError && e.status === 404) {
        st.status = 'unavailable';
        st.message = t('ui.unavailable');
      } else if (!navigator.onLine) {
        st.status = 'offline';
        st.message = t('ui.layer_offline');
      } else {
        st.status = 'error';
        st.message = e instanceof Error ? e.message : String(e);
      }
      if (!this.map.getSource(src)) {
        // An empty source keeps the layer in place, so a later reload just fills it.
        this.addGeojson(src, EMPTY, def);
        this.addStyles(st);
      }
    }
    this.applyVisibility(st);
  }

  /** Hidden GeoJSON layers switched on in one go (a view's layers, or several boxes of the
   * layer list ticked at once), downloaded together. */
  private shown: LayerState[] | null = null;

  /** Downloads a layer switched on, together with the others switched on in the same task:
   * their data goes into the map at once, when all of it has arrived, so the map cuts
   * the sources into tiles and draws them in one run of frames rather than one per answer
   * (on a city a frame drawn in software takes hundreds of ms). */
  private showStale(st: LayerState): void {
    st.status = 'loading';
    if (!this.shown) {
      const batch: LayerState[] = (this.shown = []);
      queueMicrotask(() => {
        this.shown = null;
        void Promise.all(batch.map((s) => this.download(s).then((got) => [s, got] as const))).then((all) => {
          for (const [s, got] of all) if (got) this.put(s, got);
          this.changed();
        });
      });
    }
    this.shown.push(st);
  }

  /** Where a style layer goes: shapes of every layer below labels of every layer, each
   * band in registry order, and tool overlays (ids `tool-...`) above everything. */
  private rank = new Map<string, number>();

  /** GeoJSON sources that hold no feature now. */
  private empty = new Set<string>();

  /** Gives a GeoJSON source new data, unless it holds none and gets none again (a view's
   * layer with nothing to draw on a city's zone): every `setData` makes the worker cut the
   * source into tiles again and the map draw again, seconds of frames in software. */
  private fill(src: string, source: GeoJSONSource, data: Fc): void {
    const none = data.features.length === 0;
    if (none && this.empty.has(src)) return;
    source.setData(data);
    if (none) this.empty.add(src);
    else this.empty.delete(src);
  }

  /** The communities' tile source and its MVT layer, once in the map. */
  private communityTiles(): { source: string; sourceLayer: string } | null {
    const c = this.states.get(COMMUNITIES);
    if (!c || c.def.source.kind !== 'tiles') return null;
    const source = this.sourceId(COMMUNITIES);
    return this.map.getSource(source) ? { source, sourceLayer: c.def.source.sourceLayer } : null;
  }

  /** Puts a layer's data into the map. A city's communities with their figures (a layer
   * with `communities`) are not cut into tiles again from GeoJSON: each community of the
   * vector tiles the map already holds gets the figures as its feature state (keys
   * `layer:property`), and the layer's fill and line styles are drawn on those tiles,
   * reading the state (one repaint, no tiling in the worker; on a city a GeoJSON of 600
   * shapes took the worker seconds and 3-5 frames of 400-700 ms in software). Its GeoJSON
   * source is left empty meanwhile; other data (a community's cells or grids) goes into it
   * as before and the styles move back onto it. */
  private place(st: LayerState, data: Fc, attribution?: string): void {
    const src = this.sourceId(st.def.id);
    const city = !!st.def.communities && allCommunities(data) && this.communityTiles() !== null;
    const geo = city ? EMPTY : data;
    const existing = this.map.getSource(src) as GeoJSONSource | undefined;
    if (existing) {
      if (city !== !!st.city) {
        st.city = city;
        this.remount(st);
      }
      this.fill(src, existing, geo);
    } else {
      st.city = city;
      this.addGeojson(src, geo, st.def, attribution);
      this.addStyles(st);
    }
    this.paintCommunities(st, city ? data : EMPTY);
  }

  /** Sets the figures of `data` as the communities' feature state, and unmarks the
   * communities this layer marked before and `data` does not hold. */
  private paintCommunities(st: LayerState, data: Fc): void {
    const tiles = this.communityTiles();
    if (!tiles || (!data.features.length && !st.painted?.size)) return;
    const ns = st.def.id;
    const key = st.def.key ?? 'code';
    const now = new Set<string>();
    for (const f of data.features) {
      const code = String(f.properties[key]);
      const state: Record<string, unknown> = { [ns]: true };
      for (const [k, v] of Object.entries(f.properties)) if (v === null || typeof v !== 'object') state[`${ns}:${k}`] = v;
      this.map.setFeatureState({ ...tiles, id: code }, state);
      now.add(code);
    }
    for (const code of st.painted ?? []) if (!now.has(code)) this.map.setFeatureState({ ...tiles, id: code }, { [ns]: false });
    st.painted = now;
  }

  /** Whether a style layer is drawn on the communities' tiles now. */
  private onTiles(st: LayerState, s: StyleLayer): boolean {
    return !!st.city && (s.type === 'fill' || s.type === 'line');
  }

  /** Moves a layer's fill and line styles between its GeoJSON source and the communities'
   * tiles (same ids, same place in the drawing order). */
  private remount(st: LayerState): void {
    for (const s of st.def.styles(this.ctx(st))) {
      if ((s.type !== 'fill' && s.type !== 'line') || !this.map.getLayer(s.id)) continue;
      this.map.removeLayer(s.id);
      this.map.addLayer(this.withSource(st, s), this.beforeId(rankOf(st.def, s)));
    }
    this.applyVisibility(st);
    this.applyFilters(st);
  }

  /** The opacity property of a fill or line style and its value drawn on the communities'
   * tiles: the style's own where the community holds this layer's figures and passes the
   * filters (which cannot read feature state, so they become part of the opacity), else 0. */
  private tileOpacity(st: LayerState, s: StyleLayer, parts: ExpressionSpecification[]): [string, unknown] {
    const prop = s.type === 'fill' ? 'fill-opacity' : 'line-opacity';
    const own = (s.paint as Record<string, unknown> | undefined)?.[prop] ?? 1;
    const cond = ['all', ['boolean', ['feature-state', st.def.id], false], ...parts.map((p) => fromState(p, st.def.id))];
    return [prop, ['case', cond, fromState(own, st.def.id), 0]];
  }

  /** Adds a layer's GeoJSON source (clustered when the layer says so). */
  private addGeojson(src: string, data: Fc, def: LayerDef, attribution?: string): void {
    const c = def.cluster;
    const cluster = c ? { cluster: true, clusterRadius: c.radius, clusterMaxZoom: c.maxZoom, ...(c.properties ? { clusterProperties: c.properties } : {}) } : {};
    this.map.addSource(src, { type: 'geojson', data, promoteId: def.key ?? 'code', ...cluster, ...(attribution ? { attribution } : {}) });
    if (data.features.length === 0) this.empty.add(src);
  }

  private beforeId(mine: number): string | undefined {
    for (const l of this.map.getStyle().layers ?? []) {
      const r = this.rank.get(l.id);
      if (r !== undefined && r > mine) return l.id;
      if (r === undefined && l.id.startsWith('tool-')) return l.id;
    }
    return undefined;
  }

  private withSource(st: LayerState, s: StyleLayer): LayerSpecification {
    const tiles = this.onTiles(st, s) ? this.communityTiles() : null;
    if (tiles) {
      // On the communities' tiles: properties read from the feature state, filters folded
      // into the opacity (applyFilters sets it with the legend's toggles).
      const paint = fromState(s.paint ?? {}, st.def.id) as Record<string, unknown>;
      const [prop, value] = this.tileOpacity(st, s, s.filter ? [s.filter as ExpressionSpecification] : []);
      paint[prop] = value;
      const { filter: _drop, ...rest } = s as StyleLayer & { filter?: unknown };
      void _drop;
      return { ...rest, paint, source: tiles.source, 'source-layer': tiles.sourceLayer } as LayerSpecification;
    }
    // Tiles: a layer's labels are drawn from its label points when it has them.
    const sources = this.tileSources(st.def);
    const from = (s.type === 'symbol' ? sources[1] : undefined) ?? sources[0];
    const spec = { ...s, source: from?.id ?? this.sourceId(st.def.id) } as LayerSpecification & { 'source-layer'?: string };
    if (from) spec['source-layer'] = from.sourceLayer;
    return spec;
  }

  private addStyles(st: LayerState): void {
    if (st.styleIds.length) return;
    for (const s of st.def.styles(this.ctx(st))) {
      if (!s.id.startsWith(st.def.id)) throw new Error(`style layer ${s.id} must start with ${st.def.id}`);
      this.map.addLayer(this.withSource(st, s), this.beforeId(rankOf(st.def, s)));
      this.rank.set(s.id, rankOf(st.def, s));
      st.styleIds.push(s.id);
    }
    this.applyVisibility(st);
    this.applyFilters(st);
  }

  /** Re-applies paint and layout from `styles()` (after a language or option change). */
  restyle(): void {
    for (const st of this.states.values()) {
      for (const s of st.def.styles(this.ctx(st))) {
        if (!this.map.getLayer(s.id)) continue;
        const paint = this.onTiles(st, s) ? (fromState(s.paint ?? {}, st.def.id) as Record<string, unknown>) : (s.paint ?? {});
        for (const [k, v] of Object.entries(paint)) this.map.setPaintProperty(s.id, k as Parameters<MlMap['setPaintProperty']>[1], v as Parameters<MlMap['setPaintProperty']>[2]);
        for (const [k, v] of Object.entries(s.layout ?? {})) if (k !== 'visibility') this.map.setLayoutProperty(s.id, k as Parameters<MlMap['setLayoutProperty']>[1], v);
        // A style's zoom range may depend on the layer's options too.
        const z = s as { minzoom?: number; maxzoom?: number };
        if (z.minzoom !== undefined || z.maxzoom !== undefined) this.map.setLayerZoomRange(s.id, z.minzoom ?? 0, z.maxzoom ?? 24);
      }
      this.applyVisibility(st);
      this.applyFilters(st);
    }
    this.changed();
  }

  setVisible(id: string, on: boolean): void {
    const st = this.states.get(id);
    if (!st) return;
    st.visible = on;
    localStorage.setItem(`wangge.visible.${id}`, on ? '1' : '0');
    if (on && st.stale) {
      st.stale = false;
      this.showStale(st);
    } else this.applyVisibility(st);
    this.changed();
  }

  setOption(id: string, key: string, value: string): void {
    const st = this.states.get(id);
    if (!st) return;
    st.options[key] = value;
    localStorage.setItem(`wangge.opt.${id}.${key}`, value);
    this.restyle();
    // An option named in the layer's URL selects other data.
    if (st.def.source.kind === 'geojson' && st.def.source.url.includes(`{${key}}`)) void this.loadOrDefer(st);
  }

  /** Switches the features with `properties[key] === value` on or off. */
  toggleValue(id: string, key: string, value: string): void {
    const st = this.states.get(id);
    if (!st) return;
    const k = `${key}=${value}`;
    if (st.off.has(k)) st.off.delete(k);
    else st.off.add(k);
    this.applyFilters(st);
    this.changed();
  }

  private applyVisibility(st: LayerState): void {
    for (const id of st.styleIds) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', st.visible ? 'visible' : 'none');
    }
  }

  private applyFilters(st: LayerState): void {
    const byKey = new Map<string, string[]>();
    for (const kv of st.off) {
      const i = kv.indexOf('=');
      const k = kv.slice(0, i);
      byKey.set(k, [...(byKey.get(k) ?? []), kv.slice(i + 1)]);
    }
    const exclude: ExpressionSpecification[] = [...byKey].map(
      ([k, vs]) => ['!', ['in', ['to-string', ['get', k]], ['literal', vs]]] as ExpressionSpecification,
    );
    for (const s of st.def.styles(this.ctx(st))) {
      if (!this.map.getLayer(s.id)) continue;
      const own = (s as { filter?: FilterSpecification }).filter;
      const parts = [...(own ? [own as ExpressionSpecification] : []), ...exclude];
      if (this.onTiles(st, s)) {
        const [prop, value] = this.tileOpacity(st, s, parts);
        this.map.setPaintProperty(s.id, prop as Parameters<MlMap['setPaintProperty']>[1], value as Parameters<MlMap['setPaintProperty']>[2]);
        continue;
      }
      const filter: FilterSpecification | null =
        parts.length === 0 ? null : parts.length === 1 ? (parts[0] as FilterSpecification) : (['all', ...parts] as FilterSpecification);
      this.map.setFilter(s.id, filter);
    }
  }

  /** Style layer ids that may be clicked, topmost first. */
  pickable(): { layer: string; ids: string[] }[] {
    return [...this.states.values()]
      .filter((st) => st.visible && st.def.pick?.length)
      .sort((a, b) => b.def.order - a.def.order)
      .map((st) => ({ layer: st.def.id, ids: (st.def.pick ?? []).filter((i) => this.map.getLayer(i)) }));
  }

  /** The topmost clickable feature at a pixel (with a few pixels' slack on touch screens). */
  pickAt(point: PointLike, slack = 0): Picked | null {
    const p = Array.isArray(point) ? point : [point.x, point.y];
    const [x, y] = p as [number, number];
    const box: [PointLike, PointLike] | PointLike =
      slack > 0 ? [[x - slack, y - slack], [x + slack, y + slack]] : [x, y];
    for (const { layer, ids } of this.pickable()) {
      if (!ids.length) continue;
      const found = this.map.queryRenderedFeatures(box, { layers: ids });
      // On the communities' tiles, only those holding this layer's figures are its features.
      const st = this.states.get(layer);
      const f = st?.city ? found.find((x) => x.state?.[layer] === true) : found[0];
      if (f && st?.city) f.properties = this.fullProps(st, f);
      if (f) return { layer, feature: f };
    }
    return null;
  }

  /** The properties a layer's download gives the community of a tile feature (drawn on the
   * communities' tiles, whose own properties are the community's code and name). */
  fullProps(st: LayerState, f: MapGeoJSONFeature): MapGeoJSONFeature['properties'] {
    const key = st.def.key ?? 'code';
    const mine = st.data?.features.find((x) => String(x.properties[key]) === String(f.id ?? f.properties[key]));
    return mine ? { ...mine.properties } : f.properties;
  }

  /** Marks one feature as selected (`feature-state: selected`), un-marking the previous one. */
  highlight(layer: string | null, key: string | number | null): void {
    const set = (l: string, k: string | number, selected: boolean) => {
      const st = this.states.get(l);
      if (!st) return;
      const target: { source: string; id: string | number; sourceLayer?: string } = { source: this.sourceId(l), id: k };
      if (st.def.source.kind === 'tiles') target.sourceLayer = st.def.source.sourceLayer;
      const tiles = st.city ? this.communityTiles() : null;
      if (tiles) Object.assign(target, tiles);
      if (this.map.getSource(target.source)) this.map.setFeatureState(target, { selected });
    };
    if (this.selected) set(this.selected.layer, this.selected.key, false);
    this.selected = layer !== null && key !== null ? { layer, key } : null;
    if (this.selected) set(this.selected.layer, this.selected.key, true);
  }

  /** Sets the features of a `from.local()` layer (kept until the map has loaded). */
  setData(id: string, data: Fc): void {
    const st = this.states.get(id);
    if (!st || st.def.source.kind !== 'local') return;
    st.data = data;
    st.count = data.features.length;
    if (this.map.getSource(this.sourceId(id))) this.place(st, data);
    this.changed();
  }

  /** The loaded features of a GeoJSON layer (undefined for tiles). */
  data(id: string): Fc | undefined {
    return this.states.get(id)?.data;
  }
}
