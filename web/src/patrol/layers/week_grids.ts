// The week view's grids: each second-level grid coloured by the chosen week's patrol status
// (GET /api/compliance?week= joined to the grids' shapes). Off until the week view opens.
import type { ExpressionSpecification } from 'maplibre-gl';
import { defineLayer, from } from '../../map/registry';
import { selectedOr } from '../../map/style';
import { pt } from '../strings';
import { gridWeeks, SHADE_COLOUR, SHADES } from '../week';

function colour(): ExpressionSpecification {
  const e: unknown[] = ['match', ['get', 'week_status']];
  for (const s of SHADES) e.push(s, SHADE_COLOUR[s]);
  e.push('#9e9e9e');
  return e as ExpressionSpecification;
}

export default defineLayer({
  id: 'patrol-week',
  order: 42,
  title: 'layer_patrol_week',
  source: from.custom('patrol-week', () => gridWeeks()),
  requires: ['patrols', 'read'],
  hidden: true,
  pick: ['patrol-week-fill'],
  communities: true,
  styles: () => [
    { id: 'patrol-week-fill', type: 'fill', paint: { 'fill-color': colour(), 'fill-opacity': selectedOr(0.65, 0.42) } },
    { id: 'patrol-week-line', type: 'line', paint: { 'line-color': colour(), 'line-width': selectedOr(3.5, 1.5) } },
  ],
  legend: () => SHADES.map((s) => ({ label: pt(`week_${s}`), fill: SHADE_COLOUR[s], toggle: { key: 'week_status', value: s } })),
});
