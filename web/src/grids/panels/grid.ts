// A grid's panel: code, name, parent, area, households, residents, party members and party
// organisation (when the account may see them), chief and members, child grids, and links
// to its buildings. Admins get the boundary editor from here.
import type { Geometry } from 'geojson';
import { get, request, type Fc, type Feat, type GridDetail } from '../../api';
import { area, num, t } from '../../i18n';
import { bboxOf } from '../../geo';
import { h, row } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';

/** Buildings shown before "show all". */
const FIRST_BUILDINGS = 30;

async function buildingsOf(code: string, children: string[], geometry: Geometry | null): Promise<Feat[]> {
  if (!geometry) return [];
  const b = bboxOf(geometry);
  if (!b) return [];
  const fc = await get<Fc>(`/api/buildings?bbox=${b.map((v) => v.toFixed(7)).join(',')}`);
  const codes = new Set([code, ...children]);
  return fc.features
    .filter((f) => codes.has(String(f.properties.grid_code)))
    .sort((a, b) => String(a.properties.code).localeCompare(String(b.properties.code)));
}

function buildingList(app: AppApi, buildings: Feat[]): HTMLElement {
  const list = h('ul', { class: 'links', 'data-testid': 'grid-buildings' });
  const item = (f: Feat) =>
    h(
      'li',
      {},
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => app.open({ layer: 'buildings', props: f.properties, geometry: f.geometry }, { fly: true }) },
        String(f.properties.name ?? f.properties.code),
      ),
      h('span', { class: 'muted' }, ` ${t('ui.households_count', { n: num(f.properties.households) })}`),
    );
  buildings.slice(0, FIRST_BUILDINGS).forEach((f) => list.append(item(f)));
  if (buildings.length > FIRST_BUILDINGS) {
    const more = h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => { more.remove(); buildings.slice(FIRST_BUILDINGS).forEach((f) => list.append(item(f))); } }, `${t('ui.show_all')} (${buildings.length})`));
    list.append(more);
  }
  return list;
}

export default definePanel({
  id: 'grid',
  layers: ['grids1', 'grids2'],
  title: (sel) => String(sel?.props.name ?? sel?.props.code ?? t('ui.grid')),
  render: async (app, sel) => {
    const code = String(sel?.props.code ?? '');
    const r = await request<{ geometry: Geometry | null; properties: GridDetail }>(`/api/grids/${encodeURIComponent(code)}`);
    const g = r.data.properties;
    const staff = g.staff ?? [];
    const chief = staff.filter((s) => s.role === 'chief');
    const members = staff.filter((s) => s.role === 'member');
    const tel = (n: string | null | undefined) => (n ? h('a', { href: `tel:${n}`, class: 'muted' }, ` ${n}`) : null);
    const person = (s: { name: string; duty_phone: string | null; phone?: string | null }) =>
      h('li', {}, s.name, tel(s.duty_phone), tel(s.phone));
    const parentLink =
      g.level === 2 && g.parent_code
        ? h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(g.parent_code!) }, g.parent_code)
        : h('span', {}, g.community_name ?? g.community_code ?? '—');
    const dl = h(
      'dl',
      { class: 'facts', 'data-testid': 'grid-facts' },
      row(t('ui.code'), h('span', { 'data-field': 'code' }, g.code)),
      row(t('grids.level'), g.level === 1 ? t('grids.level_1') : t('grids.level_2')),
      row(t('grids.parent'), parentLink),
      row(t('ui.community'), g.community_name ?? g.community_code ?? '—'),
      row(t('grids.area'), area(g.area_m2)),
      row(t('grids.households'), h('span', { 'data-field': 'households' }, num(g.households))),
      row(t('grids.residents'), h('span', { 'data-field': 'residents' }, num(g.residents))),
      g.party_members !== undefined ? row(t('grids.party_members'), h('span', { 'data-field': 'party_members' }, num(g.party_members))) : [],
      g.party_organisation ? row(t('grids.party_org'), g.party_organisation) : [],
      row(t('ui.buildings'), num(g.buildings)),
      row(t('grids.version'), `${g.version}${g.valid_from ? ` · ${t('grids.since')} ${g.valid_from.slice(0, 10)}` : ''}`),
    );
    const out = h('div', {}, dl);
    out.append(
      h('h3', {}, t('grids.chief')),
      chief.length ? h('ul', { class: 'people', 'data-testid': 'grid-chief' }, chief.map(person)) : h('p', { class: 'muted' }, t('ui.none')),
      h('h3', {}, t('grids.members')),
      members.length ? h('ul', { class: 'people' }, members.map(person)) : h('p', { class: 'muted' }, t('ui.none')),
    );
    const children = g.children ?? [];
    if (g.level === 1 && children.length) {
      out.append(
        h('h3', {}, t('grids.children')),
        h('ul', { class: 'links' }, children.map((c) => h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(c) }, c)))),
      );
    }
    if (app.can('boundaries', 'write')) {
      out.append(h('p', {}, h('button', { type: 'button', class: 'primary', 'data-testid': 'edit-boundary', onclick: () => app.edit(g.code) }, t('edit.edit_boundary'))));
    }
    const bHead = h('h3', {}, t('ui.buildings'));
    const bBody = h('div', {}, h('p', { class: 'muted' }, t('ui.loading')));
    out.append(bHead, bBody);
    buildingsOf(g.code, children, r.data.geometry)
      .then((bs) => bBody.replaceChildren(bs.length ? buildingList(app, bs) : h('p', { class: 'muted' }, t('ui.none'))))
      .catch((e: unknown) => bBody.replaceChildren(h('p', { class: 'error' }, String(e))));
    return out;
  },
});
