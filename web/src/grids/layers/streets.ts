// Streets of the walking network, by road class. OSM-derived data carries OSM's attribution.
import type { ExpressionSpecification } from 'maplibre-gl';
import { defineLayer, from, OSM_ATTRIBUTION } from '../../map/registry';

const MAJOR = ['motorway', 'trunk', 'primary', 'secondary', 'tertiary'];
const PATH = ['footway', 'path', 'steps', 'pedestrian', 'cycleway', 'track'];

const width: ExpressionSpecification = [
  'interpolate', ['linear'], ['zoom'],
  12, ['match', ['get', 'highway'], MAJOR, 1.6, PATH, 0.5, 0.9],
  17, ['match', ['get', 'highway'], MAJOR, 9, PATH, 2, 5],
];

export default defineLayer({
  id: 'streets',
  order: 10,
  title: 'grids.layer_streets',
  source: from.tiles('streets'),
  styles: () => [
    {
      id: 'streets-line',
      type: 'line',
      // The server's street tiles start at 12 (src/maptiles.rs); saying so here keeps the
      // source out of the map until then (see web/README.md).
      minzoom: 12,
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: {
        'line-color': ['match', ['get', 'highway'], MAJOR, '#b0a89a', PATH, '#c8c2b8', '#cfc9bf'],
        'line-width': width,
        'line-dasharray': ['match', ['get', 'highway'], PATH, ['literal', [2, 1.5]], ['literal', [1, 0]]],
      },
    },
    {
      id: 'streets-label',
      type: 'symbol',
      minzoom: 15.5,
      layout: { 'symbol-placement': 'line', 'text-field': ['coalesce', ['get', 'name'], ''], 'text-size': 11 },
      paint: { 'text-color': '#6d6a65', 'text-halo-color': '#fff', 'text-halo-width': 1.2 },
    },
  ],
  legend: (c) => [
    { label: c.t('grids.hw_major'), line: '#b0a89a' },
    { label: c.t('grids.hw_minor'), line: '#cfc9bf' },
    { label: c.t('grids.hw_path'), line: '#c8c2b8', dashed: true },
  ],
  attribution: (data) =>
    data.features.some((f) => f.properties?.osm_id != null || f.properties?.source === 'osm') ? OSM_ATTRIBUTION : undefined,
});
