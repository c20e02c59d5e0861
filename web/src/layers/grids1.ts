// First-level grids (一级网格, one party branch each): boundaries and labels (code, name, chief).
import { defineLayer, from } from '../map/registry';
import { gridLabel, selectedOr } from '../map/style';

const COLOUR = '#c62828';

export default defineLayer({
  id: 'grids1',
  order: 30,
  title: 'layer_grids1',
  source: from.tiles('grids1'),
  pick: ['grids1-fill'],
  styles: (c) => [
    {
      id: 'grids1-fill',
      type: 'fill',
      paint: { 'fill-color': COLOUR, 'fill-opacity': selectedOr(0.2, 0.01) },
    },
    { id: 'grids1-line', type: 'line', paint: { 'line-color': COLOUR, 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 1.5, 17, 3.5] } },
    {
      id: 'grids1-label',
      type: 'symbol',
      minzoom: 13.5,
      maxzoom: 15.5,
      layout: { 'text-field': gridLabel(c.t('chief')), 'text-size': 12, 'text-max-width': 14 },
      paint: { 'text-color': COLOUR, 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
    },
  ],
  legend: (c) => [{ label: c.t('layer_grids1'), line: COLOUR }],
});
