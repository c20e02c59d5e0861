// Incidents reported in the week shown (GET /api/incidents), as points coloured by category;
// open ones have a dark ring, overdue ones a red one.
import type { ExpressionSpecification } from 'maplibre-gl';
import { viewLayer } from '../../map/registry';
import { colourBy } from '../../map/style';
import { CATEGORIES, categoryName } from '../categories';
import { incidents } from '../week';

const OPEN: ExpressionSpecification = ['!', ['in', ['get', 'status'], ['literal', ['verified', 'closed']]]];

export default viewLayer('incidents', () => incidents(), {
  order: 65,
  title: 'patrol.layer_incidents',
  requires: ['incidents', 'read'],
  pick: ['incidents-circle'],
  styles: () => [
    {
      id: 'incidents-circle',
      type: 'circle',
      paint: {
        'circle-color': colourBy('category', CATEGORIES, '#607d8b'),
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 4, 16, 7, 18, 10],
        'circle-stroke-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#000', ['==', ['get', 'overdue'], true], '#d50000', OPEN, '#263238', '#fff'],
        'circle-stroke-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3.5, OPEN, 2.5, 1.5],
      },
    },
  ],
  legend: () => CATEGORIES.map((k) => ({ label: categoryName(k.id), circle: k.colour, toggle: { key: 'category', value: k.id } })),
});
