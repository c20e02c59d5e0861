// A party cell's panel (a grid of the party cells layer): its branch or group, secretary and
// committee, members (names only when the server sends them), grid chief and staff, the
// cell's rule findings, and for a branch its groups.
import { get, type Feat, type Props } from '../../api';
import { lang, num, t } from '../../i18n';
import { h, row } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';
import { CELLS, findingLinks, findingsOfCell, focusParty } from '../findings';
import { parsed, ruleTitle } from '../rules';

/** `GET /api/party/orgs/{code}`. */
interface OrgDetail {
  code: string;
  name: string;
  kind: string;
  members: number;
  full_members?: number;
  seats: number;
  has_committee: boolean;
  has_secretary: boolean;
  officers?: { person_code: string; name: string; role: string }[];
  officer_roles?: Record<string, number>;
  member_list?: { code: string; name: string; membership: string; building_code: string | null }[];
}

const ROLES: Record<string, [string, string]> = {
  secretary: ['书记', 'Secretary'],
  deputy_secretary: ['副书记', 'Deputy secretary'],
  committee: ['委员', 'Committee member'],
  part_time_committee: ['兼职委员', 'Part-time committee member'],
  group_leader: ['党小组长', 'Group leader'],
};
const ORDER = Object.keys(ROLES);

function roleName(r: string): string {
  const l = ROLES[r];
  return l ? (lang() === 'en' ? l[1] : l[0]) : r;
}

function officers(o: OrgDetail): HTMLElement {
  if (o.officers) {
    const list = [...o.officers].sort((a, b) => ORDER.indexOf(a.role) - ORDER.indexOf(b.role));
    return list.length
      ? h('ul', { class: 'people', 'data-testid': 'cell-officers' }, list.map((p) => h('li', { 'data-role': p.role }, `${roleName(p.role)}：${p.name}`)))
      : h('p', { class: 'muted' }, '—');
  }
  const roles = Object.entries(o.officer_roles ?? {}).sort((a, b) => ORDER.indexOf(a[0]) - ORDER.indexOf(b[0]));
  return h(
    'div',
    {},
    h('ul', { class: 'people', 'data-testid': 'cell-officers' }, roles.map(([r, n]) => h('li', { 'data-role': r }, `${roleName(r)}：${num(n)}`))),
    h('p', { class: 'muted small' }, t('party.officers_counts')),
  );
}

function childLinks(app: AppApi, code: string): HTMLElement | null {
  const kids = (app.layers.data(CELLS)?.features ?? []).filter((f: Feat) => f.properties.parent_code === code);
  if (!kids.length) return null;
  return h(
    'ul',
    { class: 'links', 'data-testid': 'cell-groups' },
    kids.map((k) =>
      h(
        'li',
        {},
        h('button', { type: 'button', class: 'link', onclick: () => app.open({ layer: CELLS, props: k.properties, geometry: k.geometry }, { fly: true }) }, String(k.properties.org_name ?? k.properties.name)),
        h('span', { class: 'muted' }, ` ${t('party.members')} ${num(k.properties.members)}`),
      ),
    ),
  );
}

export default definePanel({
  id: 'party_cell',
  layers: ['party'],
  requires: ['party', 'read'],
  title: (sel) => String(sel?.props.org_name ?? sel?.props.name ?? t('party.cell')),
  render: async (app, sel) => {
    const p: Props = sel?.props ?? {};
    const code = String(p.code ?? '');
    if (p.kind === 'community') {
      // A city's zone shows communities: a click opens the community's cells and findings.
      focusParty(app, code);
      return h(
        'dl',
        { class: 'facts', 'data-testid': 'cell-community' },
        row(t('party.members'), num(Number(p.members))),
        row(t('party.full'), num(Number(p.full_members))),
        row(t('party.cell'), `${num(Number(p.failing_cells))} / ${num(Number(p.cells))}`),
      );
    }
    // Fresh counts and officers from the organisation (the layer may be older).
    const org = typeof p.org_code === 'string' && p.org_code ? await get<OrgDetail>(`/api/party/orgs/${encodeURIComponent(p.org_code)}`) : null;
    const level = Number(p.level);
    const members = org?.members ?? Number(p.members);
    const full = org?.full_members ?? Number(p.full_members);
    const rules = parsed<string[]>(p.findings) ?? [];
    const out = h(
      'div',
      { 'data-testid': 'cell' },
      h(
        'dl',
        { class: 'facts', 'data-testid': 'cell-facts' },
        row(t('party.org'), org ? h('span', { 'data-field': 'org' }, `${org.name}`) : h('span', { class: 'muted' }, t('party.no_org'))),
        row(t('party.cell_kind'), level === 1 ? t('party.branch') : t('party.group')),
        row(t('party.grid'), h('button', { type: 'button', class: 'link', 'data-testid': 'cell-grid', onclick: () => void app.openGrid(code) }, `${String(p.name ?? '')} (${code})`)),
        row(t('party.members'), h('span', { 'data-field': 'members' }, num(members))),
        row(t('party.full'), h('span', { 'data-field': 'full_members' }, num(full))),
        row(t('party.probationary'), h('span', { 'data-field': 'probationary_members' }, num(members - full))),
        level === 1
          ? row(t('party.committee'), (org?.has_committee ?? p.has_committee === true) ? t('party.committee_yes', { n: org?.seats ?? Number(p.committee_seats) }) : t('party.committee_no', { n: org?.seats ?? Number(p.committee_seats) }))
          : [],
        row(t('party.chief'), typeof p.chief === 'string' ? p.chief : '—'),
        row(t('party.grid_members'), num(p.grid_members)),
        row(
          t('party.status'),
          h(
            'span',
            { 'data-field': 'status', class: rules.length ? 'error' : '' },
            rules.length ? `${t('party.status_failing')}：${rules.map((r) => ruleTitle(r)).join('；')}` : t('party.status_ok'),
          ),
        ),
      ),
    );
    if (org) {
      out.append(h('h3', {}, t('party.officers')), officers(org));
      if (org.member_list) {
        out.append(
          h(
            'details',
            { 'data-testid': 'cell-members' },
            h('summary', {}, t('party.member_list', { n: org.member_list.length })),
            h(
              'ul',
              { class: 'people small' },
              org.member_list.map((m) => h('li', {}, m.name, h('span', { class: 'muted' }, ` ${m.membership === 'full' ? t('party.full') : t('party.probationary')}${m.building_code ? ` · ${m.building_code}` : ''}`))),
            ),
          ),
        );
      }
    }
    if (level === 1) {
      const kids = childLinks(app, code);
      if (kids) out.append(h('h3', {}, t('party.child_groups')), kids);
    }
    if (app.can('boundaries', 'write')) {
      // A boundary change moves members between cells: the editor previews it before saving.
      out.append(h('p', {}, h('button', { type: 'button', class: 'primary', 'data-testid': 'edit-boundary', onclick: () => app.edit(code) }, t('edit.edit_boundary'))));
    }
    const found = findingsOfCell(app, code, level);
    out.append(h('h3', {}, t('party.cell_findings')), found.length ? findingLinks(app, found, 'cell-findings') : h('p', { class: 'muted' }, t('party.ok_rules')));
    return out;
  },
});
