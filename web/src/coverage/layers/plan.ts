// The planner's what-if scenario and siting proposals: new stations, moved stations (with a
// dashed line from where they stand today), removed stations (crossed out) and the proposed
// sites, numbered, drawn above every layer's labels. Set by the coverage panel; `role`
// says which.
import { colourByKind, PICK, REMOVED } from '../style';
import { defineLayer, from } from '../../map/registry';
import { t } from '../../i18n';

export default defineLayer({
  id: 'coverage_plan',
  order: 65,
  title: 'coverage.layer_plan',
  source: from.local(),
  requires: ['coverage', 'read'],
  // Above the grid and station labels: a what-if station is what the planner works on.
  overLabels: true,
  styles: () => [
    {
      id: 'coverage_plan-line',
      type: 'line',
      filter: ['==', ['get', 'role'], 'move_line'],
      paint: { 'line-color': '#37474f', 'line-width': 2, 'line-dasharray': [2, 1.5] },
    },
    {
      id: 'coverage_plan-removed',
      type: 'circle',
      filter: ['==', ['get', 'role'], 'remove'],
      paint: { 'circle-radius': 11, 'circle-color': 'rgba(255,255,255,0.5)', 'circle-stroke-color': REMOVED, 'circle-stroke-width': 3 },
    },
    {
      id: 'coverage_plan-circle',
      type: 'circle',
      filter: ['in', ['get', 'role'], ['literal', ['add', 'move', 'pick', 'drag']]],
      paint: {
        'circle-radius': ['match', ['get', 'role'], 'pick', 12, 10],
        'circle-color': ['match', ['get', 'role'], 'pick', PICK, 'drag', 'rgba(255,255,255,0.7)', colourByKind()],
        'circle-stroke-color': ['match', ['get', 'role'], 'pick', '#fff', '#000'],
        'circle-stroke-width': ['case', ['boolean', ['feature-state', 'selected'], false], 4, 2.5],
      },
    },
    {
      id: 'coverage_plan-label',
      type: 'symbol',
      filter: ['has', 'label'],
      layout: { 'text-field': ['get', 'label'], 'text-size': 13, 'text-allow-overlap': true, 'text-ignore-placement': true },
      paint: {
        'text-color': ['match', ['get', 'role'], 'remove', REMOVED, '#fff'],
        'text-halo-color': ['match', ['get', 'role'], 'remove', '#fff', 'rgba(0,0,0,0.6)'],
        'text-halo-width': 1.2,
      },
    },
  ],
  legend: () => [
    { label: t('coverage.plan_add'), circle: '#9e9e9e' },
    { label: t('coverage.plan_move'), line: '#37474f', dashed: true },
    { label: t('coverage.plan_remove'), circle: 'rgba(255,255,255,0.5)', line: REMOVED },
    { label: t('coverage.plan_pick'), circle: PICK },
  ],
});
