// The layer registry: every map layer of the app is one file in src/<feature>/layers/ that default-
// exports `defineLayer({...})`. The file says where the data comes from (one `source:` line:
// GeoJSON from the API today, vector tiles tomorrow), how it is drawn, what its legend
// shows and who may see it. src/map/layers.ts does the rest (loading, toggles, order,
// clicks, highlight). See web/README.md, "Adding a layer".

import type {
  CircleLayerSpecification,
  FillLayerSpecification,
  LineLayerSpecification,
  SymbolLayerSpecification,
} from 'maplibre-gl';
import { URLS, type Action, type Area, type Fc, type Me } from '../api';
import type { Key, Lang } from '../i18n';

/** Where a layer's features come from (build one with [`from`]). */
export type SourceDef =
  | {
      kind: 'geojson';
      /** GET URL of a FeatureCollection; `{bbox}` becomes the scope's box (with a margin),
       * and `{key}` the value of the layer's option `key` (the data is downloaded again
       * when that option changes). */
      url: string;
      /** Builds the FeatureCollection instead of downloading `url` (see `from.custom`), from
       * the layer's options. */
      load?: (options: Record<string, string>) => Promise<Fc>;
    }
  | {
      kind: 'tiles';
      /** Layer name of `/tiles/{layer}.json` (TileJSON) and `/tiles/{layer}/{z}/{x}/{y}.mvt`. */
      layer: string;
      /** The MVT layer inside the tiles (defaults to `layer`). */
      sourceLayer: string;
    }
  | {
      /** GeoJSON the app sets at run time (`MapLayers.setData`), e.g. an analysis result;
       * empty until then, and left out of the layer list while empty. */
      kind: 'local';
    };

/** Where a layer's data comes from; a layer file says `source: from.api('grids2')` today and
 * `source: from.tiles('grids2')` once the server serves that layer as vector tiles. */
export const from = {
  /** A FeatureCollection from the API: a list route named in `URLS` (src/api.ts), or any
   * URL starting with `/`. Downloaded again after edits. */
  api(route: keyof typeof URLS | `/${string}`): SourceDef {
    return { kind: 'geojson', url: route.startsWith('/') ? route : URLS[route as keyof typeof URLS] };
  },
  /** A FeatureCollection the layer builds itself (e.g. from several routes, or for a week
   * chosen in a panel); called at start and on every `layers.reload([id])`. */
  custom(name: string, load: (options: Record<string, string>) => Promise<Fc>): SourceDef {
    return { kind: 'geojson', url: `custom:${name}`, load };
  },
  /** The server's vector tiles for `layer` (`/tiles/{layer}.json`); `sourceLayer` names the
   * MVT layer inside when it differs. */
  tiles(layer: string, sourceLayer: string = layer): SourceDef {
    return { kind: 'tiles', layer, sourceLayer };
  },
  /** Data the app sets itself with `MapLayers.setData(id, collection)`. */
  local(): SourceDef {
    return { kind: 'local' };
  },
};

type WithoutSource<T> = T extends unknown ? Omit<T, 'source' | 'source-layer'> : never;

/** A MapLibre style layer without its source: the registry adds `source` (and
 * `source-layer` for tiles). Its id must start with the layer's id. */
export type StyleLayer = WithoutSource<
  FillLayerSpecification | LineLayerSpecification | SymbolLayerSpecification | CircleLayerSpecification
>;

/** What style and legend functions may read. */
export interface LayerContext {
  me: Me;
  lang: Lang;
  t: (k: Key, vars?: Record<string, string | number>) => string;
  /** The current value of one of this layer's options. */
  option: (key: string) => string;
}

/** One legend row: a swatch and a label. Rows with `toggle` switch features with
 * `properties[toggle.key] === toggle.value` on and off. */
export interface LegendItem {
  label: string;
  fill?: string;
  line?: string;
  circle?: string;
  dashed?: boolean;
  toggle?: { key: string; value: string };
}

/** A choice shown under the layer in the legend (e.g. shade buildings by households or residents). */
export interface LayerOption {
  key: string;
  label: Key;
  /** Each choice is labelled by an i18n key, or by a `text` that needs no translation
   * (e.g. a year). */
  choices: ({ value: string; label: Key } | { value: string; text: string })[];
  initial: string;
}

/** An option whose choices are labelled by i18n keys, given as `[value, label]`; the first
 * is chosen at start. */
export function option(key: string, label: Key, choices: [string, Key][]): LayerOption {
  return { key, label, choices: choices.map(([value, l]) => ({ value, label: l })), initial: choices[0]![0] };
}

/** One layer of the app. */
export interface LayerDef {
  /** Unique id; also the prefix of its style layers' ids. */
  id: string;
  /** Drawing order: higher is drawn above. Clicks pick the highest layer first. */
  order: number;
  /** Name in the legend. */
  title: Key;
  source: SourceDef;
  /** Shown only to accounts with this permission. */
  requires?: [Area, Action];
  /** Off at start (on by default). A hidden GeoJSON layer is downloaded when first shown. */
  hidden?: boolean;
  /** The style layers. Called again after a language switch or an option change. */
  styles: (ctx: LayerContext) => StyleLayer[];
  legend?: (ctx: LayerContext) => LegendItem[];
  options?: LayerOption[];
  /** Ids of the style layers whose features can be clicked (opening a panel). */
  pick?: string[];
  /** Attribution to show while the layer is drawn, decided from its data (GeoJSON);
   * vector tiles bring their own through TileJSON. */
  attribution?: (data: Fc) => string | undefined;
  /** Property that identifies a feature (for highlight); default `code`. */
  key?: string;
  /** The layer's data may be a city's communities with their figures (every feature
   * `kind: "community"` or `level: "community"`, keyed by the community code): such data is
   * drawn on the communities' vector tiles, which the map has already loaded, by their
   * feature state, instead of being cut into tiles again from GeoJSON (see
   * `MapLayers.place`). Its fill and line styles are then drawn with `['get', k]` read from
   * the state; its other styles draw nothing meanwhile. */
  communities?: boolean;
  /** Clusters a GeoJSON layer's points below `maxZoom` (MapLibre's clustering): its styles
   * tell clusters (`['has', 'point_count']`) from points; `properties` are MapLibre's
   * `clusterProperties` (e.g. how many of a cluster's points are overdue). */
  cluster?: { radius: number; maxZoom: number; properties?: Record<string, unknown> };
  /** For a tile layer: the server's vector tiles of one point per feature, inside it
   * (`from.tiles(...)`), that the layer's symbol styles are drawn from instead of its shapes: a shape's label is then
   * drawn once, not once for every tile the shape crosses (grids: `grids2_labels`). */
  labels?: SourceDef;
  /** Draws all its style layers among the labels (in `order`), not only its symbols: for
   * markers that must stay readable over every layer's labels (the planner's what-if
   * stations). */
  overLabels?: boolean;
}

/** Declares a layer; default-export the result from a file in src/<feature>/layers/. */
export function defineLayer(def: LayerDef): LayerDef {
  return def;
}

/** Declares a layer of a view (the party view, the week view, the incidents panel): off
 * until the view opens or its box is ticked, its data built by its feature (`load`, called
 * when it is first shown and on every `layers.reload([id])`). */
export function viewLayer(id: string, load: (options: Record<string, string>) => Promise<Fc>, def: Omit<LayerDef, 'id' | 'source' | 'hidden'>): LayerDef {
  return defineLayer({ id, source: from.custom(id, load), hidden: true, ...def });
}

/** The copyright line OSM-derived data must carry. */
export const OSM_ATTRIBUTION =
  '© <a href="https://www.openstreetmap.org/copyright" target="_blank" rel="noopener">OpenStreetMap</a> contributors';
