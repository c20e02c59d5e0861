// Service stations: the "1+8" system and other facilities, coloured by kind.
import type { ExpressionSpecification } from 'maplibre-gl';
import { defineLayer, from } from '../../map/registry';
import { STATION_KINDS, stationName } from '../kinds';

function colourByKind(): ExpressionSpecification {
  const e: unknown[] = ['match', ['get', 'kind']];
  for (const k of STATION_KINDS) e.push(k.kind, k.colour);
  e.push('#607d8b');
  return e as ExpressionSpecification;
}

export default defineLayer({
  id: 'stations',
  order: 60,
  title: 'layer_stations',
  source: from.tiles('stations'),
  requires: ['stations', 'read'],
  pick: ['stations-circle'],
  styles: () => [
    {
      id: 'stations-circle',
      type: 'circle',
      // The server's station tiles start at 12 (src/maptiles.rs), as for the streets.
      minzoom: 12,
      paint: {
        'circle-color': colourByKind(),
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 12, 3.5, 16, 7, 18, 10],
        'circle-stroke-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#000', '#fff'],
        'circle-stroke-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 1.5],
        // The party-mass centre (the "1" of "1+8") is drawn larger.
        'circle-stroke-opacity': 1,
      },
    },
    {
      id: 'stations-label',
      type: 'symbol',
      minzoom: 16.5,
      layout: { 'text-field': ['get', 'name'], 'text-size': 11, 'text-offset': [0, 1.2], 'text-anchor': 'top', 'text-optional': true },
      paint: { 'text-color': '#263238', 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
    },
  ],
  legend: (c) =>
    STATION_KINDS.map((k) => ({ label: stationName(k.kind, c.lang), circle: k.colour, toggle: { key: 'kind', value: k.kind } })),
});
