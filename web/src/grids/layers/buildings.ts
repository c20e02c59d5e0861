// Buildings (楼栋), shaded by households or residents.
import { num } from '../../i18n';
import { defineLayer, from, option } from '../../map/registry';
import { colourSteps, stepLegend } from '../../map/style';

const COLOURS = ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'];
const BREAKS: Record<string, number[]> = {
  households: [10, 30, 60, 100],
  residents: [25, 75, 150, 300],
};

/** The breaks of a metric (households by default). */
const breaksOf = (metric: string) => BREAKS[metric] ?? BREAKS.households!;

export default defineLayer({
  id: 'buildings',
  order: 50,
  title: 'grids.layer_buildings',
  source: from.tiles('buildings'),
  pick: ['buildings-fill'],
  options: [option('metric', 'grids.shade_by', [['households', 'grids.households'], ['residents', 'grids.residents']])],
  styles: (c) => [
    {
      id: 'buildings-fill',
      type: 'fill',
      minzoom: 13,
      paint: { 'fill-color': colourSteps(c.option('metric'), breaksOf(c.option('metric')), COLOURS), 'fill-opacity': 0.9 },
    },
    {
      id: 'buildings-line',
      type: 'line',
      minzoom: 14,
      paint: {
        'line-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#0d47a1', '#8c2d04'],
        'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 0.5],
      },
    },
  ],
  legend: (c) =>
    stepLegend(breaksOf(c.option('metric')), COLOURS, {
      below: (n) => `< ${num(n)}`,
      range: (a, b) => `${num(a)} – ${num(b)}`,
      from: (n) => `≥ ${num(n)}`,
    }).map((r) => ({ ...r, line: '#8c2d04' })),
});
