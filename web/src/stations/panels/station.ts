// A service station's panel.
import { lang, num, t } from '../../i18n';
import { stationName } from '../kinds';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

export default definePanel({
  id: 'station',
  layers: ['stations'],
  title: (sel) => String(sel?.props.name ?? t('layer_stations')),
  render: (_app, sel) => {
    const p = sel?.props ?? {};
    return h(
      'dl',
      { class: 'facts' },
      row(t('code'), String(p.code ?? '')),
      row(t('kind'), stationName(String(p.kind ?? ''), lang())),
      row(t('programmes'), num(p.programmes)),
      row(t('community'), p.community_code != null ? String(p.community_code) : null),
    );
  },
});
