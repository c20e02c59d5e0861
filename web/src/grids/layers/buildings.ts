// Buildings (楼栋), shaded by households or residents.
import type { ExpressionSpecification } from 'maplibre-gl';
import { num } from '../../i18n';
import { defineLayer, from } from '../../map/registry';

const COLOURS = ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'];
const BREAKS: Record<string, number[]> = {
  households: [10, 30, 60, 100],
  residents: [25, 75, 150, 300],
};

function shade(metric: string): ExpressionSpecification {
  const b = BREAKS[metric] ?? BREAKS.households!;
  const e: unknown[] = ['step', ['coalesce', ['get', metric], 0], COLOURS[0]];
  b.forEach((v, i) => e.push(v, COLOURS[i + 1]));
  return e as ExpressionSpecification;
}

export default defineLayer({
  id: 'buildings',
  order: 50,
  title: 'layer_buildings',
  source: from.tiles('buildings'),
  pick: ['buildings-fill'],
  options: [
    {
      key: 'metric',
      label: 'shade_by',
      choices: [
        { value: 'households', label: 'households' },
        { value: 'residents', label: 'residents' },
      ],
      initial: 'households',
    },
  ],
  styles: (c) => [
    {
      id: 'buildings-fill',
      type: 'fill',
      minzoom: 13,
      paint: { 'fill-color': shade(c.option('metric')), 'fill-opacity': 0.9 },
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
  legend: (c) => {
    const b = BREAKS[c.option('metric')] ?? BREAKS.households!;
    return COLOURS.map((fill, i) => ({
      fill,
      line: '#8c2d04',
      label: i === 0 ? `< ${num(b[0])}` : i === b.length ? `≥ ${num(b[b.length - 1])}` : `${num(b[i - 1])} – ${num((b[i] ?? 0) - 1)}`,
    }));
  },
});
