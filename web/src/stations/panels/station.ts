// A service station's panel.
import { num, t } from '../../i18n';
import { stationName } from '../kinds';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

export default definePanel({
  id: 'station',
  layers: ['stations'],
  title: (sel) => String(sel?.props.name ?? t('stations.layer')),
  render: (_app, sel) => {
    const p = sel?.props ?? {};
    return h(
      'dl',
      { class: 'facts' },
      row(t('ui.code'), String(p.code ?? '')),
      row(t('stations.kind'), stationName(String(p.kind ?? ''))),
      row(t('stations.programmes'), num(p.programmes)),
      row(t('ui.community'), p.community_code != null ? String(p.community_code) : null),
    );
  },
});
