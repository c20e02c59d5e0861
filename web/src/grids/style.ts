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

/** The two levels side by side. First-level grids (一级网格, one party branch each) are drawn
 * from zoom 11: a city seen whole (zoom 10) shows its communities, and thousands of grid
 * outlines a few pixels wide would only cost frames (each drawn in software on a machine
 * without a GPU) and tiles. Second-level grids (二级网格, one party group each) from zoom 12
 * (a district; below it they are a few pixels wide). */
const LOOKS: Record<1 | 2, GridLook> = {
  1: { level: 1, order: 30, colour: '#c62828', from: 11, fill: [0.2, 0.01], width: [12, 1.5, 17, 3.5], labels: [13.5, 15.5], labelSize: 12, labelColour: '#c62828' },
  2: { level: 2, order: 40, colour: '#ef6c00', from: 12, fill: [0.3, 0.04], width: [13, 0.8, 17, 2.2], dashed: true, labels: [15], labelSize: 11, labelColour: '#8d3a00' },
};

/** The layer of one level of grids: boundaries, and labels with code, name and chief. */
export function gridLayer(level: 1 | 2): LayerDef {
  const g = LOOKS[level];
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
