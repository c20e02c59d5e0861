// The panel registry and the side panel. Every panel is one file in src/<feature>/panels/ that
// default-exports `definePanel({...})`: feature panels name the layers whose features open
// them (a click on the map, a search hit or a link), tool panels get a toolbar button.
// See web/README.md, "Adding a panel".

import type { Geometry } from 'geojson';
import type { Map as MlMap, MapMouseEvent } from 'maplibre-gl';
import type { Action, Area, Me, Props } from '../api';
import type { Key } from '../i18n';
import { t } from '../i18n';
import type { MapLayers } from '../map/layers';
import { h } from './dom';

/** A feature the user picked: its layer, its properties, and its shape when known. */
export interface Selection {
  layer: string;
  props: Props;
  geometry?: Geometry;
}

/** A panel's map tool (e.g. placing a station): it sees map clicks before the app does. */
export interface MapTool {
  /** True when it took the click (the app then opens no panel). */
  click(e: MapMouseEvent): boolean;
  /** The cursor over a point, or null to let the app choose. */
  cursor?(e: MapMouseEvent): string | null;
}

/** What a panel may use of the app. */
export interface AppApi {
  map: MlMap;
  me: Me;
  layers: MapLayers;
  can(area: Area, action: Action): boolean;
  /** Opens the panel of a feature, highlights it and (with `fly`) moves the map to it. */
  open(sel: Selection, opts?: { fly?: boolean }): void;
  /** Opens a grid's panel by code (fetching its shape), moving the map to it. */
  openGrid(code: string): Promise<void>;
  /** Starts the boundary editor on a grid (admins). */
  edit(code: string): void;
  /** A short message at the bottom of the screen. */
  toast(text: string, kind?: 'info' | 'error'): void;
  /** Installs (or with null removes) the map tool that sees clicks first. */
  setTool(tool: MapTool | null): void;
}

/** A count on a tool button (e.g. the open incidents). */
export interface ToolBadge {
  /** The text shown (empty: no badge) and the button's longer description of it. */
  text: () => { text: string; title: string };
  /** Calls `f` whenever the text may have changed; the first call may start a download. */
  watch: (f: () => void) => void;
}

export interface PanelDef {
  id: string;
  /** Feature panels: the layers whose features this panel shows. */
  layers?: string[];
  /** Tool panels: a toolbar button with this label opens the panel with no selection;
   * `badge` puts a count on the button (empty text: none), written again whenever the
   * listener given to `watch` is called. */
  tool?: { title: Key; icon: string; badge?: ToolBadge };
  /** Shown only to accounts with this permission. */
  requires?: [Area, Action];
  /** The panel's heading. */
  title: (sel: Selection | null) => string;
  /** The panel's body; may load data first. */
  render: (app: AppApi, sel: Selection | null) => Node | Promise<Node>;
  /** Called when the panel closes or another replaces it (e.g. to drop its map tool). */
  closed?: (app: AppApi) => void;
}

/** Declares a panel; default-export the result from a file in src/<feature>/panels/. */
export function definePanel(def: PanelDef): PanelDef {
  return def;
}

/** The side panel (a bottom sheet on phones) that shows one panel at a time. */
export class SidePanel {
  readonly el: HTMLElement;
  private head: HTMLElement;
  private body: HTMLElement;
  private token = 0;
  private onClose: (() => void) | null = null;
  private shown: { def: PanelDef; app: AppApi; sel: Selection | null } | null = null;

  constructor(parent: HTMLElement) {
    this.head = h('h2', { class: 'panel-title' });
    this.body = h('div', { class: 'panel-body' });
    const close = h('button', { class: 'icon', type: 'button', 'aria-label': t('ui.close'), title: t('ui.close'), onclick: () => this.close() }, '×');
    this.el = h('aside', { class: 'side-panel', hidden: true, 'data-testid': 'panel' }, h('header', {}, this.head, close), this.body);
    parent.append(this.el);
  }

  /** Shows a panel; a slower earlier render that finishes later is dropped. */
  async show(def: PanelDef, app: AppApi, sel: Selection | null, onClose?: () => void): Promise<void> {
    const token = ++this.token;
    this.leave();
    this.shown = { def, app, sel };
    this.onClose = onClose ?? null;
    this.el.hidden = false;
    this.el.dataset.panel = def.id;
    this.head.textContent = def.title(sel);
    this.body.replaceChildren(h('p', { class: 'muted' }, t('ui.loading')));
    try {
      const node = await def.render(app, sel);
      if (token !== this.token) return;
      this.body.replaceChildren(node);
    } catch (e) {
      if (token !== this.token) return;
      this.body.replaceChildren(h('p', { class: 'error' }, t('ui.error', { msg: e instanceof Error ? e.message : String(e) })));
    }
  }

  close(): void {
    this.token++;
    this.el.hidden = true;
    delete this.el.dataset.panel;
    const f = this.onClose;
    this.onClose = null;
    f?.();
    this.leave();
  }

  /** Tells the panel shown until now that it is gone. */
  private leave(): void {
    const s = this.shown;
    this.shown = null;
    s?.def.closed?.(s.app);
  }

  /** Writes the title again (after a language switch, for panels that re-render their
   * own body). */
  retitle(): void {
    if (this.shown) this.head.textContent = this.shown.def.title(this.shown.sel);
  }

  get open(): boolean {
    return !this.el.hidden;
  }
}
