// Community (社区) boundaries with their names.
import { defineLayer, from } from '../../map/registry';
import { selectedOr } from '../../map/style';

const COLOUR = '#6a1b9a';

export default defineLayer({
  id: 'communities',
  order: 20,
  title: 'grids.layer_communities',
  source: from.tiles('communities'),
  pick: ['communities-fill'],
  styles: () => [
    { id: 'communities-fill', type: 'fill', paint: { 'fill-color': COLOUR, 'fill-opacity': selectedOr(0.18, 0.03) } },
    { id: 'communities-line', type: 'line', paint: { 'line-color': COLOUR, 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 2, 17, 5], 'line-opacity': 0.75 } },
    {
      // Names from zoom 11: a city seen whole (600 communities at zoom 10) spent about 1 s of
      // its sign-in in software on placing their labels and drawing their glyphs, most of
      // which collide and are not shown; one step in, they are.
      id: 'communities-label',
      type: 'symbol',
      minzoom: 11,
      maxzoom: 14.5,
      layout: { 'text-field': ['get', 'name'], 'text-size': 15, 'symbol-placement': 'point' },
      paint: { 'text-color': COLOUR, 'text-halo-color': '#fff', 'text-halo-width': 2 },
    },
  ],
  legend: (c) => [{ label: c.t('grids.layer_communities'), line: COLOUR, fill: 'rgba(106,27,154,0.08)' }],
});
