// The ten-minute service circle: second-level grids coloured by the share of their residents
// who reach the chosen services on foot. The planner panel (src/coverage/panels/planner.ts) sets
// the data: grid shapes with `pct` (residents covered, %), `cls` (class), figures and label,
// and a point inside each that the label is drawn at (once per grid).
import type { FilterSpecification } from 'maplibre-gl';
import { legendRows, fillByClass } from '../classes';
import { defineLayer, from } from '../../map/registry';

const SHAPES: FilterSpecification = ['!=', ['geometry-type'], 'Point'];

export default defineLayer({
  id: 'coverage',
  order: 52,
  title: 'coverage.layer',
  source: from.local(),
  requires: ['coverage', 'read'],
  communities: true,
  styles: () => [
    { id: 'coverage-fill', type: 'fill', filter: SHAPES, paint: { 'fill-color': fillByClass(), 'fill-opacity': 0.55 } },
    { id: 'coverage-line', type: 'line', filter: SHAPES, paint: { 'line-color': '#5d4037', 'line-width': 0.8, 'line-opacity': 0.6 } },
    {
      id: 'coverage-label',
      type: 'symbol',
      filter: ['==', ['geometry-type'], 'Point'],
      minzoom: 13.5,
      layout: { 'text-field': ['get', 'label'], 'text-size': 12, 'text-allow-overlap': false },
      paint: { 'text-color': '#263238', 'text-halo-color': '#fff', 'text-halo-width': 1.8 },
    },
  ],
  legend: () => legendRows().map((r) => ({ label: r.label, fill: r.colour, line: '#5d4037' })),
});
