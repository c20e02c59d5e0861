// The week view's grids: each second-level grid coloured by the chosen week's patrol status
// (GET /api/compliance?week= joined to the grids' shapes). Off until the week view opens.
import { viewLayer } from '../../map/registry';
import { colourBy, selectedOr } from '../../map/style';
import { gridWeeks, SHADE_COLOUR, SHADES } from '../week';
import { t } from '../../i18n';

/** Each grid's colour: its week's status. */
const colour = () => colourBy('week_status', SHADES.map((s) => ({ id: s, colour: SHADE_COLOUR[s] })), '#9e9e9e');

export default viewLayer('patrol-week', () => gridWeeks(), {
  order: 42,
  title: 'patrol.layer_week',
  requires: ['patrols', 'read'],
  pick: ['patrol-week-fill'],
  communities: true,
  styles: () => [
    { id: 'patrol-week-fill', type: 'fill', paint: { 'fill-color': colour(), 'fill-opacity': selectedOr(0.65, 0.42) } },
    { id: 'patrol-week-line', type: 'line', paint: { 'line-color': colour(), 'line-width': selectedOr(3.5, 1.5) } },
  ],
  legend: () => SHADES.map((s) => ({ label: t(`patrol.week_${s}`), fill: SHADE_COLOUR[s], toggle: { key: 'week_status', value: s } })),
});
