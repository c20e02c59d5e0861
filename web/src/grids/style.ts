// The look of the two levels of grids, which differ only in their numbers: one function
// builds either layer from them. Grids outside the account's own scope (a grid chief sees
// the rest of its region) are dimmed; labels are drawn from the server's label points, one
// inside each grid, so each grid is labelled once.
import type { ExpressionSpecification } from 'maplibre-gl';
import { defineLayer, from, type LayerDef } from '../map/registry';
import { gridLabel, inScope, selectedOr } from '../map/style';

/** How much of a grid outside the scope is drawn: its outline and label faint, no fill
 * unless selected. */
const DIMMED = { line: 0.3, label: 0.45 };

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
    labels: from.tiles(`${id}_labels`),
    pick: [`${id}-fill`],
    styles: (c) => {
      const mine = inScope(c.me);
      const dim = (own: number | ExpressionSpecification, dimmed: number | ExpressionSpecification) => (mine ? (['case', mine, own, dimmed] as ExpressionSpecification) : own);
      return [
        { id: `${id}-fill`, type: 'fill', minzoom: g.from, paint: { 'fill-color': g.colour, 'fill-opacity': dim(selectedOr(...g.fill), selectedOr(g.fill[0], 0)) } },
        {
          id: `${id}-line`,
          type: 'line',
          minzoom: g.from,
          paint: {
            'line-color': g.colour,
            'line-opacity': dim(1, DIMMED.line),
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
          paint: { 'text-color': g.labelColour, 'text-opacity': dim(1, DIMMED.label), 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
        },
      ];
    },
    legend: (c) => [{ label: c.t(title), line: g.colour, ...(g.dashed ? { dashed: true } : {}) }],
  });
}
