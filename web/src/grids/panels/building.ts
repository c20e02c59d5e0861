// A building's panel: compound, address, households, residents, its grid.
import { num, t } from '../../i18n';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

export default definePanel({
  id: 'building',
  layers: ['buildings'],
  title: (sel) => String(sel?.props.name ?? sel?.props.code ?? t('ui.buildings')),
  render: (app, sel) => {
    const p = sel?.props ?? {};
    const compound = p.compound_name ?? p.compound_code;
    const grid = typeof p.grid_code === 'string' ? p.grid_code : null;
    return h(
      'dl',
      { class: 'facts', 'data-testid': 'building-facts' },
      row(t('ui.code'), h('span', { 'data-field': 'code' }, String(p.code ?? ''))),
      row(t('grids.compound'), compound != null ? String(compound) : h('span', { class: 'muted' }, t('ui.not_provided'))),
      row(t('grids.address'), p.address != null ? String(p.address) : null),
      row(t('grids.households'), h('span', { 'data-field': 'households' }, num(p.households))),
      row(t('grids.residents'), h('span', { 'data-field': 'residents' }, num(p.residents))),
      p.employees ? row(t('grids.employees'), num(p.employees)) : [],
      p.party_members !== undefined ? row(t('grids.party_members'), num(p.party_members)) : [],
      row(t('ui.grid'), grid ? h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(grid) }, grid) : null),
    );
  },
});
