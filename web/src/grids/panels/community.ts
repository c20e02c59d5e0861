// A community's panel: code, figures and its first-level grids.
import { get, type Fc } from '../../api';
import { num, t } from '../../i18n';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

export default definePanel({
  id: 'community',
  layers: ['communities'],
  title: (sel) => String(sel?.props.name ?? t('ui.community')),
  render: async (app, sel) => {
    const p = sel?.props ?? {};
    const code = String(p.code ?? '');
    const grids = await get<Fc>(`/api/grids?level=1&community=${encodeURIComponent(code)}`);
    return h(
      'div',
      {},
      h(
        'dl',
        { class: 'facts' },
        row(t('ui.code'), code),
        row(t('grids.households'), num(p.households)),
        row(t('grids.residents'), num(p.residents)),
        p.party_members !== undefined ? row(t('grids.party_members'), num(p.party_members)) : [],
        row(t('ui.buildings'), num(p.buildings)),
        row(t('grids.grids_count'), num(p.grids)),
      ),
      h('h3', {}, t('grids.layer_grids1')),
      h(
        'ul',
        { class: 'links' },
        grids.features
          .map((f) => f.properties)
          .sort((a, b) => String(a.code).localeCompare(String(b.code)))
          .map((g) =>
            h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(String(g.code)) }, `${String(g.name)} (${String(g.code)})`)),
          ),
      ),
    );
  },
});
