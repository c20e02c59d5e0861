// Service stations: the "1+8" system and other facilities, coloured by kind.
import { defineLayer, from } from '../../map/registry';
import { colourBy } from '../../map/style';
import { STATION_KINDS, stationName } from '../kinds';

export default defineLayer({
  id: 'stations',
  order: 60,
  title: 'stations.layer',
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
        'circle-color': colourBy('kind', STATION_KINDS, '#607d8b'),
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
  legend: () =>
    STATION_KINDS.map((k) => ({ label: stationName(k.id), circle: k.colour, toggle: { key: 'kind', value: k.id } })),
});
