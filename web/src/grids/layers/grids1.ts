// First-level grids (一级网格, one party branch each): boundaries and labels (code, name, chief).
// Drawn from zoom 11: a city seen whole (zoom 10) shows its communities, and thousands of
// grid outlines a few pixels wide would only cost frames (each drawn in software on a
// machine without a GPU) and tiles.
import { defineLayer, from } from '../../map/registry';
import { gridLabel, selectedOr } from '../../map/style';

const COLOUR = '#c62828';
/** The zoom from which the grids are drawn. */
const FROM = 11;

export default defineLayer({
  id: 'grids1',
  order: 30,
  title: 'grids.layer_grids1',
  source: from.tiles('grids1'),
  pick: ['grids1-fill'],
  styles: (c) => [
    {
      id: 'grids1-fill',
      type: 'fill',
      minzoom: FROM,
      paint: { 'fill-color': COLOUR, 'fill-opacity': selectedOr(0.2, 0.01) },
    },
    { id: 'grids1-line', type: 'line', minzoom: FROM, paint: { 'line-color': COLOUR, 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 1.5, 17, 3.5] } },
    {
      id: 'grids1-label',
      type: 'symbol',
      minzoom: 13.5,
      maxzoom: 15.5,
      layout: { 'text-field': gridLabel(c.t('grids.chief')), 'text-size': 12, 'text-max-width': 14 },
      paint: { 'text-color': COLOUR, 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
    },
  ],
  legend: (c) => [{ label: c.t('grids.layer_grids1'), line: COLOUR }],
});
