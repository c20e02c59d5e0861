// Second-level grids (二级网格, one party group each): boundaries and labels (code, name, chief).
// Drawn from zoom 12 (a district; below it they are a few pixels wide, see grids1.ts).
import { defineLayer, from } from '../../map/registry';
import { gridLabel, selectedOr } from '../../map/style';

const COLOUR = '#ef6c00';
/** The zoom from which the grids are drawn. */
const FROM = 12;

export default defineLayer({
  id: 'grids2',
  order: 40,
  title: 'grids.layer_grids2',
  source: from.tiles('grids2'),
  pick: ['grids2-fill'],
  styles: (c) => [
    {
      id: 'grids2-fill',
      type: 'fill',
      minzoom: FROM,
      paint: { 'fill-color': COLOUR, 'fill-opacity': selectedOr(0.3, 0.04) },
    },
    {
      id: 'grids2-line',
      type: 'line',
      minzoom: FROM,
      paint: { 'line-color': COLOUR, 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.8, 17, 2.2], 'line-dasharray': [3, 2] },
    },
    {
      id: 'grids2-label',
      type: 'symbol',
      minzoom: 15,
      layout: { 'text-field': gridLabel(c.t('grids.chief')), 'text-size': 11, 'text-max-width': 14 },
      paint: { 'text-color': '#8d3a00', 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
    },
  ],
  legend: (c) => [{ label: c.t('grids.layer_grids2'), line: COLOUR, dashed: true }],
});
