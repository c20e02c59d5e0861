// Buildings outside the service circle (and, with a what-if scenario, the buildings it
// newly covers or leaves uncovered). Set by the coverage panel; `state` says which. Drawn,
// like the buildings, from zoom 13: on a city seen whole they are specks (tens of thousands
// of them), and the communities coloured by their share covered say more.
import { scenarioActive } from '../flags';
import { GAP } from '../style';
import { defineLayer, from } from '../../map/registry';
import { t } from '../../i18n';

export default defineLayer({
  id: 'coverage_gaps',
  order: 54,
  title: 'coverage.layer_gaps',
  source: from.local(),
  requires: ['coverage', 'read'],
  styles: () => [
    {
      id: 'coverage_gaps-fill',
      type: 'fill',
      minzoom: 13,
      paint: {
        'fill-color': ['match', ['get', 'state'], 'newly_covered', GAP.newly_covered, 'newly_uncovered', GAP.newly_uncovered, GAP.uncovered],
        'fill-opacity': 0.75,
      },
    },
    {
      id: 'coverage_gaps-line',
      type: 'line',
      minzoom: 13,
      paint: {
        'line-color': ['match', ['get', 'state'], 'newly_covered', '#1b5e20', 'newly_uncovered', '#311b92', '#7f0000'],
        'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.5, 17, 2],
      },
    },
  ],
  legend: (c) => [
    { label: c.t('coverage.layer_gaps'), fill: GAP.uncovered, line: '#7f0000' },
    ...(scenarioActive()
      ? [
          { label: t('coverage.newly_covered'), fill: GAP.newly_covered, line: '#1b5e20' },
          { label: t('coverage.newly_uncovered'), fill: GAP.newly_uncovered, line: '#311b92' },
        ]
      : []),
  ],
});
