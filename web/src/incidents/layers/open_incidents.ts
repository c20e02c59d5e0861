// The open incidents of the caller's scope as points coloured by status, overdue ones with
// a thick red ring; grouped into clusters below zoom 15 (a cluster is red when any of its
// incidents is overdue, with its count). Switched on when the incidents panel opens.
import type { ExpressionSpecification } from 'maplibre-gl';
import { viewLayer } from '../../map/registry';
import { statusName } from '../../patrol/categories';
import { openIncidents } from '../open';

/** The colour of each open status. */
export const STATUS_COLOURS: [string, string][] = [
  ['reported', '#e53935'],
  ['assigned', '#fb8c00'],
  ['in_progress', '#1e88e5'],
  ['resolved', '#43a047'],
];

const OVERDUE = '#b71c1c';
const CLUSTERED: ExpressionSpecification = ['has', 'point_count'];
const byStatus: ExpressionSpecification = ['match', ['get', 'status'], ...STATUS_COLOURS.flat(), '#757575'] as unknown as ExpressionSpecification;

export default viewLayer('open_incidents', () => openIncidents(), {
  order: 66,
  title: 'incidents.layer',
  requires: ['incidents', 'read'],
  key: 'id',
  cluster: { radius: 40, maxZoom: 14, properties: { overdue: ['+', ['case', ['==', ['get', 'overdue'], true], 1, 0]] } },
  pick: ['open_incidents-point'],
  styles: () => [
    {
      id: 'open_incidents-cluster',
      type: 'circle',
      filter: CLUSTERED,
      paint: {
        'circle-color': ['case', ['>', ['get', 'overdue'], 0], OVERDUE, '#455a64'],
        'circle-radius': ['step', ['get', 'point_count'], 12, 10, 16, 50, 21],
        'circle-opacity': 0.85,
        'circle-stroke-color': '#fff',
        'circle-stroke-width': 2,
      },
    },
    {
      id: 'open_incidents-count',
      type: 'symbol',
      filter: CLUSTERED,
      layout: { 'text-field': ['to-string', ['get', 'point_count']], 'text-size': 12, 'text-allow-overlap': true },
      paint: { 'text-color': '#fff' },
    },
    {
      id: 'open_incidents-point',
      type: 'circle',
      filter: ['!', CLUSTERED],
      paint: {
        'circle-color': byStatus,
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 5, 16, 8, 18, 11],
        'circle-stroke-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#000', ['==', ['get', 'overdue'], true], OVERDUE, '#fff'],
        'circle-stroke-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3.5, ['==', ['get', 'overdue'], true], 3.5, 1.5],
      },
    },
  ],
  legend: (c) => [
    ...STATUS_COLOURS.map(([s, colour]) => ({ label: statusName(s), circle: colour, toggle: { key: 'status', value: s } })),
    { label: c.t('incidents.legend_overdue'), circle: OVERDUE },
    { label: c.t('incidents.legend_cluster'), circle: '#455a64' },
  ],
});
