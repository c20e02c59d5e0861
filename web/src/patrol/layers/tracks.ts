// The week's patrol tracks (GET /api/patrols?week=), for grid chiefs and the street office.
import { viewLayer } from '../../map/registry';
import { tracks } from '../week';

export const TRACK_COLOUR = '#1565c0';

export default viewLayer('patrol-tracks', () => tracks(), {
  order: 55,
  title: 'patrol.layer_tracks',
  requires: ['patrols', 'read'],
  pick: ['patrol-tracks-line'],
  styles: () => [
    {
      id: 'patrol-tracks-casing',
      type: 'line',
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': '#fff', 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 3, 18, 7], 'line-opacity': 0.9 },
    },
    {
      id: 'patrol-tracks-line',
      type: 'line',
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: {
        'line-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#0d1b5e', TRACK_COLOUR],
        'line-width': ['interpolate', ['linear'], ['zoom'], 13, 1.5, 18, 4],
      },
    },
  ],
  legend: (c) => [{ label: c.t('patrol.layer_tracks'), line: TRACK_COLOUR }],
});
