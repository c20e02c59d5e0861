// The signed-in app: header (search, language, account), the map with the registered layers,
// the layer list, the side panel and the boundary editor; and the test hook
// `window.__wangge` that the browser tests read.

import * as maplibregl from 'maplibre-gl';
import type { Geometry } from 'geojson';
import type { LngLatBoundsLike, PaddingOptions, StyleSpecification } from 'maplibre-gl';
import { can, request, type Action, type Area, type Me, type Props } from './api';
import { Editor } from './edit/editor';
import { bboxOf } from './geo';
import { lang, onLang, setLang, t, type Key } from './i18n';
import { MapLayers } from './map/layers';
import { partyConfirm } from './party/preview';
import { assigneeMode, PatrolMode } from './patrol/mode';
import { registeredLayers, registeredPanels } from './registered';
import type { Settings } from './settings';
import { h } from './ui/dom';
import { legend } from './ui/legend';
import { SidePanel, type AppApi, type MapTool, type PanelDef, type Selection } from './ui/panels';
import { searchBox } from './ui/search';

/** What the browser tests can reach (`window.__wangge`). */
export interface TestHook {
  map: maplibregl.Map;
  app: App;
  /** True once every layer has loaded and the map has drawn it. */
  ready: boolean;
}

declare global {
  interface Window {
    __wangge?: TestHook;
  }
}

function baseStyle(settings: Settings): StyleSpecification | string {
  const b = settings.basemap;
  if (b?.type === 'style') return b.url;
  // No `glyphs`: MapLibre then draws labels with the browser's own fonts, so the map needs
  // nothing from the internet.
  const style: StyleSpecification = {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#f3f1ec' } }],
  };
  if (b?.type === 'raster') {
    style.sources.basemap = {
      type: 'raster',
      tiles: b.tiles,
      tileSize: b.tileSize ?? 256,
      maxzoom: b.maxzoom ?? 19,
      ...(b.attribution ? { attribution: b.attribution } : {}),
    };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.7 } });
  }
  return style;
}

export class App implements AppApi {
  readonly map: maplibregl.Map;
  readonly layers: MapLayers;
  readonly panel: SidePanel;
  readonly editor: Editor;
  readonly panels: PanelDef[];
  private toastEl: HTMLElement;
  private toastTimer = 0;
  /** Called first on every map click (patrol mode's building taps); true means handled. */
  readonly clickHooks: ((e: maplibregl.MapMouseEvent, touch: boolean) => boolean)[] = [];

  constructor(
    private root: HTMLElement,
    readonly me: Me,
    settings: Settings,
    private signOut: () => void,
  ) {
    const mapEl = h('div', { class: 'map', 'data-testid': 'map' });
    this.toastEl = h('div', { class: 'toast', hidden: true, role: 'status', 'data-testid': 'toast' });
    const body = h('div', { class: 'body' }, mapEl);
    const header = h('header', { class: 'top' });
    root.replaceChildren(h('div', { class: 'shell' }, header, body, this.toastEl));
    root.classList.add('signed-in');

    const bounds: LngLatBoundsLike | undefined = me.bbox ? [me.bbox[0], me.bbox[1], me.bbox[2], me.bbox[3]] : undefined;
    this.map = new maplibregl.Map({
      container: mapEl,
      style: baseStyle(settings),
      ...(bounds ? { bounds, fitBoundsOptions: { padding: 30 } } : { center: [105.7, 32.4], zoom: 13 }),
      maxZoom: 20,
      // Labels appear at once instead of fading in over 300 ms: each fade is a run of
      // repaints, and a frame of a whole city drawn in software takes hundreds of ms.
      fadeDuration: 0,
      attributionControl: { compact: true },
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      // The server's TileJSON gives tile URLs relative to the site unless it knows its
      // public URL; MapLibre fetches tiles in a worker, which needs them absolute.
      transformRequest: (url) => ({ url: new URL(url, location.href).href }),
    });
    this.map.touchZoomRotate.disableRotation();
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'bottom-right');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    this.map.addControl(new maplibregl.GeolocateControl({ trackUserLocation: true }), 'bottom-right');

    this.layers = new MapLayers(this.map, me, registeredLayers());
    this.panels = registeredPanels().filter((p) => !p.requires || this.can(p.requires[0], p.requires[1]));
    this.panel = new SidePanel(body);
    this.editor = new Editor(
      {
        map: this.map,
        saved: async (codes) => {
          await this.layers.reload(['grids1', 'grids2', 'buildings', 'communities', 'party', 'party_findings'], ['/api/grids', '/api/buildings', '/api/communities', '/api/party']);
          const first = this.editingCode && codes.includes(this.editingCode) ? this.editingCode : codes[0];
          this.editingCode = null;
          if (first) await this.openGrid(first, false);
        },
        ended: (code) => {
          this.editingCode = null;
          void this.openGrid(code, false);
        },
        toast: (s, k) => this.toast(s, k),
        ...(this.can('party', 'read') ? { confirm: partyConfirm(this.map, this.layers) } : {}),
      },
      body,
    );
    const legendEl = legend(this.layers);
    body.append(legendEl);
    // Patrol staff log their patrols from here (src/patrol/); other staff get its bar for
    // the incidents assigned to them, when they have some.
    if (this.can('patrols', 'write')) new PatrolMode(this, body);
    else if (this.can('incidents', 'write')) void assigneeMode(this, body);
    this.renderHeader(header, legendEl);
    // The first view: the account's grids in the part of the map no panel covers (the
    // map was made before the layer list, so it fits the scope again, at once).
    this.fitScope(false);
    for (const p of this.panels) {
      const badge = p.tool?.badge;
      if (!badge) continue;
      const write = () => {
        const el = header.querySelector<HTMLElement>(`[data-testid="badge-${p.id}"]`);
        if (!el) return;
        const { text, title } = badge.text();
        el.textContent = text;
        el.title = title;
        el.hidden = text === '';
      };
      badge.watch(write);
      onLang(write);
    }
    onLang(() => {
      this.renderHeader(header, legendEl);
      this.layers.restyle();
      if (this.panel.open && this.current) this.open(this.current);
      else if (this.panel.open) this.panel.retitle();
    });

    window.__wangge = { map: this.map, app: this, ready: false };
    this.map.on('load', () => {
      void this.layers.start().then(() => {
        this.map.once('idle', () => {
          window.__wangge!.ready = true;
          document.body.dataset.ready = '1';
        });
        this.map.triggerRepaint();
      });
    });
    this.bindClicks();
  }

  private current: Selection | null = null;
  private editingCode: string | null = null;
  private tool: MapTool | null = null;
  /** Folds the phone header's tool menu away. */
  private foldTools: () => void = () => {};

  setTool(tool: MapTool | null): void {
    this.tool = tool;
  }

  can(area: Area, action: Action): boolean {
    return can(this.me, area, action);
  }

  /** The header: layers (phones), brand, search, the tools, language, account. On phones
   * (≤ 700 px) the tool buttons and "back to my area" fold behind ⋯, so that the header fits
   * a 390 px screen for every role (web/README.md, "Phones"). */
  private renderHeader(header: HTMLElement, legendEl: HTMLElement): void {
    const roleKey = `ui.role_${this.me.role}` as Key;
    const tools = h('div', { class: 'tools', 'data-testid': 'tools' });
    const more = h('button', { type: 'button', class: 'icon more', 'aria-label': t('ui.more_tools'), title: t('ui.more_tools'), 'aria-expanded': 'false', 'data-testid': 'tools-menu' }, '⋯');
    const fold = (open: boolean) => {
      tools.classList.toggle('open', open);
      more.setAttribute('aria-expanded', String(open));
    };
    this.foldTools = () => fold(false);
    more.addEventListener('click', () => fold(!tools.classList.contains('open')));
    // Each button names itself beside its icon; the name shows only in the folded menu.
    const tool = (title: string, icon: string, attrs: Record<string, string>, run: () => void) =>
      h('button', { type: 'button', title, 'aria-label': title, ...attrs, onclick: () => { fold(false); run(); } }, h('span', { class: 'tool-icon' }, icon), h('span', { class: 'tool-name' }, title));
    tools.append(
      ...this.panels.filter((p) => p.tool).map((p) => {
        const b = tool(t(p.tool!.title), p.tool!.icon, { 'data-testid': `tool-${p.id}` }, () => void this.panel.show(p, this, null));
        if (p.tool!.badge) b.append(h('span', { class: 'badge', 'data-testid': `badge-${p.id}`, hidden: true }));
        return b;
      }),
      tool(t('ui.fit_scope'), '⌂', { class: 'icon' }, () => this.fitScope()),
    );
    header.replaceChildren(
      h('button', { type: 'button', class: 'icon menu', 'aria-label': t('ui.layers'), title: t('ui.layers'), onclick: () => legendEl.classList.toggle('open') }, '☰'),
      h('div', { class: 'brand' }, h('strong', {}, '网格'), h('span', { class: 'muted wide-only' }, ` ${t('ui.app_title')}`)),
      searchBox(this.me, (sel) => this.open(sel, { fly: true })),
      more,
      tools,
      h('button', { type: 'button', class: 'lang', 'data-testid': 'lang', onclick: () => setLang(lang() === 'en' ? 'zh-CN' : 'en') }, t('ui.language')),
      h('span', { class: 'user wide-only', 'data-testid': 'user' }, `${this.me.display_name} · ${t(roleKey)}`),
      h('button', { type: 'button', class: 'link', 'data-testid': 'sign-out', onclick: () => this.signOut() }, t('ui.sign_out')),
    );
  }

  /** Shows the account's scope (its grids, communities or region) whole, clear of the
   * panels over the map; `animate` false jumps there. */
  fitScope(animate = true): void {
    const b = this.me.bbox;
    if (b) this.map.fitBounds([b[0], b[1], b[2], b[3]], { padding: this.clearOfPanels(), ...(animate ? {} : { duration: 0 }) });
  }

  /** Padding that keeps what is fitted into the map clear of what lies over it: the layer
   * list (left, on wide screens), an open side panel (right) or bottom sheet (phones), and
   * a margin of 30 px. Shrunk when the map is too small to leave a useful part free. */
  clearOfPanels(): PaddingOptions {
    const margin = 30;
    const m = this.map.getContainer().getBoundingClientRect();
    const pad = { top: margin, bottom: margin, left: margin, right: margin };
    for (const el of this.root.querySelectorAll<HTMLElement>('.legend, .side-panel, .edit-bar')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.width > m.width * 0.6) pad.bottom = Math.max(pad.bottom, m.bottom - r.top + margin);
      else if (r.left - m.left < m.right - r.right) pad.left = Math.max(pad.left, r.right - m.left + margin);
      else pad.right = Math.max(pad.right, m.right - r.left + margin);
    }
    // At least a third of each side stays for the scope itself.
    const fit = (a: number, b: number, size: number) => (a + b > (size * 2) / 3 ? (size * 2) / 3 / (a + b) : 1);
    const kx = fit(pad.left, pad.right, m.width);
    const ky = fit(pad.top, pad.bottom, m.height);
    return { top: pad.top * ky, bottom: pad.bottom * ky, left: pad.left * kx, right: pad.right * kx };
  }

  private bindClicks(): void {
    let touch = false;
    this.map.on('touchstart', () => {
      touch = true;
    });
    this.map.on('click', (e) => {
      // On phones the layer drawer closes when the map is touched.
      this.root.querySelector('.legend')?.classList.remove('open');
      this.foldTools();
      if (this.editor.active || this.tool?.click(e)) return;
      if (this.clickHooks.some((f) => f(e, touch))) return;
      const picked = this.layers.pickAt(e.point, touch ? 8 : 0);
      if (!picked) {
        this.panel.close();
        return;
      }
      this.open({ layer: picked.layer, props: picked.feature.properties as Props });
    });
    this.map.on('mousemove', (e) => {
      if (this.editor.active) return;
      const own = this.tool?.cursor?.(e);
      this.map.getCanvas().style.cursor = own ?? (this.layers.pickAt(e.point) ? 'pointer' : '');
    });
  }

  /** The panel that shows features of `layer`. */
  panelFor(layer: string): PanelDef | undefined {
    return this.panels.find((p) => p.layers?.includes(layer));
  }

  open(sel: Selection, opts: { fly?: boolean } = {}): void {
    const def = this.panelFor(sel.layer);
    if (!def) return;
    this.current = sel;
    const key = sel.props[this.layers.states.get(sel.layer)?.def.key ?? 'code'];
    this.layers.highlight(sel.layer, typeof key === 'string' || typeof key === 'number' ? key : null);
    if (opts.fly && sel.geometry) this.flyTo(sel.geometry);
    void this.panel.show(def, this, sel, () => {
      this.layers.highlight(null, null);
      this.current = null;
    });
  }

  async openGrid(code: string, fly = true): Promise<void> {
    const r = await request<{ geometry: Geometry; properties: Props }>(`/api/grids/${encodeURIComponent(code)}`);
    const level = r.data.properties.level === 1 ? 'grids1' : 'grids2';
    this.open({ layer: level, props: r.data.properties, geometry: r.data.geometry }, { fly });
  }

  flyTo(g: Geometry): void {
    const b = bboxOf(g);
    if (!b) return;
    const mobile = window.matchMedia('(max-width: 700px)').matches;
    this.map.fitBounds([b[0], b[1], b[2], b[3]], {
      padding: mobile ? { top: 40, bottom: Math.round(window.innerHeight * 0.45), left: 20, right: 20 } : { top: 40, bottom: 40, left: 40, right: 380 },
      maxZoom: 18,
      duration: 600,
    });
  }

  edit(code: string): void {
    if (!this.can('boundaries', 'write')) return;
    this.panel.close();
    this.editingCode = code;
    this.editor.start(code).catch((e: unknown) => this.toast(t('ui.error', { msg: e instanceof Error ? e.message : String(e) }), 'error'));
  }

  toast(text: string, kind: 'info' | 'error' = 'info'): void {
    this.toastEl.textContent = text;
    this.toastEl.className = `toast ${kind}`;
    this.toastEl.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = window.setTimeout(() => {
      this.toastEl.hidden = true;
    }, 6000);
  }
}
