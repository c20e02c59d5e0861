// Isochrones: the area each clicked station's users reach on foot within the time (built by
// the server from the walked streets, not a circle). Set by the coverage panel.
import { isochroneMinutes } from '../flags';
import { colourByKind } from '../style';
import { defineLayer, from } from '../../map/registry';
import { t } from '../../i18n';

export default defineLayer({
  id: 'coverage_iso',
  order: 57,
  title: 'coverage.layer_iso',
  source: from.local(),
  requires: ['coverage', 'read'],
  key: 'station',
  styles: () => [
    { id: 'coverage_iso-fill', type: 'fill', paint: { 'fill-color': colourByKind('#1565c0'), 'fill-opacity': 0.18 } },
    { id: 'coverage_iso-line', type: 'line', paint: { 'line-color': colourByKind('#1565c0'), 'line-width': 2.5, 'line-opacity': 0.9 } },
  ],
  legend: () => [{ label: t('coverage.iso_legend', { min: isochroneMinutes() }), fill: 'rgba(21,101,192,0.18)', line: '#1565c0' }],
});
