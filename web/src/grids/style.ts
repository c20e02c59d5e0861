// The look of the two levels of grids, which differ only in their numbers: one function
// builds either layer from them.
import { defineLayer, from, type LayerDef } from '../map/registry';
import { gridLabel, selectedOr } from '../map/style';

/** What tells one level of grids from the other on the map. */
export interface GridLook {
  level: 1 | 2;
  order: number;
  colour: string;
  /** The zoom from which the grids are drawn. */
  from: number;
  /** Fill opacity of the selected grid and of the others. */
  fill: [number, number];
  /** Line width at two zooms, `[zoom, width, zoom, width]`. */
  width: [number, number, number, number];
  dashed?: boolean;
  /** Zooms between which the labels are drawn. */
  labels: [number, number?];
  labelSize: number;
  labelColour: string;
}

/** The layer of one level of grids: boundaries, and labels with code, name and chief. */
export function gridLayer(g: GridLook): LayerDef {
  const id = `grids${g.level}`;
  const [minzoom, maxzoom] = g.labels;
  const title = g.level === 1 ? 'grids.layer_grids1' : 'grids.layer_grids2';
  return defineLayer({
    id,
    order: g.order,
    title,
    source: from.tiles(id),
    pick: [`${id}-fill`],
    styles: (c) => [
      { id: `${id}-fill`, type: 'fill', minzoom: g.from, paint: { 'fill-color': g.colour, 'fill-opacity': selectedOr(...g.fill) } },
      {
        id: `${id}-line`,
        type: 'line',
        minzoom: g.from,
        paint: {
          'line-color': g.colour,
          'line-width': ['interpolate', ['linear'], ['zoom'], ...g.width],
          ...(g.dashed ? { 'line-dasharray': [3, 2] } : {}),
        },
      },
      {
        id: `${id}-label`,
        type: 'symbol',
        minzoom,
        ...(maxzoom !== undefined ? { maxzoom } : {}),
        layout: { 'text-field': gridLabel(c.t('grids.chief')), 'text-size': g.labelSize, 'text-max-width': 14 },
        paint: { 'text-color': g.labelColour, 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
      },
    ],
    legend: (c) => [{ label: c.t(title), line: g.colour, ...(g.dashed ? { dashed: true } : {}) }],
  });
}
