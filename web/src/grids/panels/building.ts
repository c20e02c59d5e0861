// A building's panel, from `GET /api/buildings/{code}`: compound, address, counts, its grid,
// first-level grid and community, the grid's staff with their duty phones, its households
// (door, residents, the head of household where the account may see names, and for those
// who read the grid's patrols whether a visit this week named it: by whom, when) and this
// week's patrol visits. The server decides what an account sees: a viewer gets counts only,
// and this panel shows whatever the answer holds. The tile's properties stand in while the
// answer is missing (offline, or a server error).
import { request, type Props } from '../../api';
import { num, t, when } from '../../i18n';
import { h, row } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';

interface Ref {
  code: string;
  name: string;
}

interface Staff {
  code: string;
  name: string;
  role: string;
  duty_phone: string | null;
  phone?: string | null;
}

interface Household {
  label: string;
  residents: number;
  /** Only for accounts that may see residents' names. */
  head?: string | null;
  /** This week's visits that named the household (empty: not visited), only for accounts
   * that read the grid's patrols. */
  visited?: VisitBy[];
}

interface VisitBy {
  patrol_id: string;
  by: string;
  staff_code: string | null;
  started_at: string;
  ended_at: string | null;
}

interface Visit {
  patrol_id: string;
  started_at: string;
  ended_at: string | null;
  by: string;
  staff_code: string | null;
  households: number;
  /** The households named, when the phone named them (absent: a count only). */
  doors?: string[];
}

/** `GET /api/buildings/{code}`. */
interface BuildingDetail {
  code: string;
  name: string | null;
  address: string | null;
  compound: Ref | null;
  grid: Ref | null;
  parent_grid: Ref | null;
  community: Ref | null;
  households: number;
  residents: number;
  employees: number;
  party_members?: number;
  staff: Staff[];
  /** Null when the account sees counts only. */
  household_list: { households: Household[]; unlabelled_residents: number } | null;
  /** Null when the account does not read this grid's patrols. */
  visits: { week: string; households_visited: number; households: number; patrols: Visit[] } | null;
}

const field = (name: string, text: string) => h('span', { 'data-field': name }, text);

function gridLink(app: AppApi, g: Ref | null): Node | null {
  return g ? h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(g.code) }, `${g.name} (${g.code})`) : null;
}

/** The facts every account that sees the building may read. */
function facts(app: AppApi, d: BuildingDetail): HTMLElement {
  return h(
    'dl',
    { class: 'facts', 'data-testid': 'building-facts' },
    row(t('ui.code'), field('code', d.code)),
    row(t('grids.compound'), d.compound ? d.compound.name : h('span', { class: 'muted' }, t('ui.none'))),
    row(t('grids.address'), d.address),
    row(t('grids.households'), field('households', num(d.households))),
    row(t('grids.residents'), field('residents', num(d.residents))),
    d.employees ? row(t('grids.employees'), num(d.employees)) : [],
    d.party_members !== undefined ? row(t('grids.party_members'), field('party_members', num(d.party_members))) : [],
    row(t('ui.grid'), gridLink(app, d.grid)),
    d.parent_grid ? row(t('grids.parent_grid'), gridLink(app, d.parent_grid)) : [],
    row(t('ui.community'), d.community ? d.community.name : null),
  );
}

function staffList(staff: Staff[]): Node[] {
  if (!staff.length) return [];
  const tel = (n: string | null | undefined) => (n ? h('a', { href: `tel:${n}`, class: 'muted' }, ` ${n}`) : null);
  const item = (s: Staff) =>
    h('li', {}, `${s.role === 'chief' ? t('grids.chief') : t('grids.members')} · ${s.name}`, tel(s.duty_phone), tel(s.phone));
  const ordered = [...staff].sort((a, b) => Number(b.role === 'chief') - Number(a.role === 'chief'));
  return [h('h3', {}, t('grids.staff')), h('ul', { class: 'people', 'data-testid': 'building-staff' }, ordered.map(item))];
}

/** Doors in the order of the building: unit, then floor and room as numbers (`1-201`
 * before `1-1001`). */
const byDoor = (a: Household, b: Household) => a.label.localeCompare(b.label, 'zh', { numeric: true });

/** Whether a household was visited this week: by whom and when, or "not yet". */
function visitedCell(by: VisitBy[]): HTMLElement {
  if (!by.length) return h('td', { class: 'muted' }, t('grids.household_not_visited'));
  return h('td', {}, by.flatMap((v, i) => [i ? h('br') : null, `✓ ${v.by} ${when(v.started_at)}`]));
}

function householdList(d: BuildingDetail): Node[] {
  const head = h('h3', {}, t('grids.household_list'));
  const list = d.household_list;
  if (!list) {
    return [head, h('p', { class: 'muted', 'data-testid': 'building-households-counts' }, t('grids.households_counts_only', { households: num(d.households), residents: num(d.residents) }))];
  }
  if (!list.households.length) return [head, h('p', { class: 'muted', 'data-testid': 'building-households' }, t('grids.no_households'))];
  const names = list.households.some((x) => typeof x.head === 'string');
  const marks = list.households.some((x) => Array.isArray(x.visited));
  const th = (k: Parameters<typeof t>[0]) => h('th', {}, t(k));
  const table = h(
    'table',
    { class: 'preview-cells', 'data-testid': 'building-households' },
    h('thead', {}, h('tr', {}, th('grids.household_label'), th('grids.household_residents'), names ? th('grids.household_head') : null, marks ? th('grids.household_visited') : null)),
    h(
      'tbody',
      {},
      [...list.households].sort(byDoor).map((x) =>
        h(
          'tr',
          { 'data-household': x.label, ...(x.visited ? { 'data-visited': x.visited.length ? 'yes' : 'no' } : {}) },
          h('td', {}, x.label),
          h('td', { class: 'num' }, num(x.residents)),
          names ? h('td', { 'data-field': 'head' }, x.head ?? '—') : null,
          marks ? visitedCell(x.visited ?? []) : null,
        ),
      ),
    ),
  );
  const out: Node[] = [head, h('p', { class: 'muted' }, t('grids.households_known', { n: num(list.households.length) })), table];
  if (list.unlabelled_residents) out.push(h('p', { class: 'muted' }, t('grids.households_unlabelled', { n: num(list.unlabelled_residents) })));
  return out;
}

function visitList(d: BuildingDetail): Node[] {
  const v = d.visits;
  if (!v) return [];
  const head = h('h3', {}, `${t('grids.visits_week')} (${v.week})`);
  const out = h('div', { 'data-testid': 'building-visits' });
  out.append(
    h('p', {}, field('households_visited', t('grids.visits_done', { n: num(v.households_visited), total: num(v.households) }))),
  );
  if (!v.patrols.length) {
    out.append(h('p', { class: 'muted' }, t('grids.visits_none')));
  } else {
    const th = (k: Parameters<typeof t>[0]) => h('th', {}, t(k));
    out.append(
      h(
        'table',
        { class: 'preview-cells' },
        h('thead', {}, h('tr', {}, th('grids.visit_by'), th('grids.visit_when'), th('grids.visit_households'))),
        h('tbody', {}, v.patrols.map((p) => h('tr', { 'data-patrol': p.patrol_id }, h('td', {}, p.by), h('td', {}, when(p.started_at)), h('td', { class: 'num' }, num(p.households))))),
      ),
    );
  }
  return [head, out];
}

/** What the map's feature says, while the server's answer is missing. */
function fromTile(p: Props): BuildingDetail {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const grid = str(p.grid_code);
  return {
    code: String(p.code ?? ''),
    name: str(p.name),
    address: str(p.address),
    compound: str(p.compound_code) ? { code: String(p.compound_code), name: String(p.compound_name ?? p.compound_code) } : null,
    grid: grid ? { code: grid, name: grid } : null,
    parent_grid: null,
    community: null,
    households: Number(p.households ?? NaN),
    residents: Number(p.residents ?? NaN),
    employees: Number(p.employees ?? 0),
    ...(typeof p.party_members === 'number' ? { party_members: p.party_members } : {}),
    staff: [],
    household_list: null,
    visits: null,
  };
}

export default definePanel({
  id: 'building',
  layers: ['buildings'],
  title: (sel) => String(sel?.props.name ?? sel?.props.code ?? t('ui.buildings')),
  render: async (app, sel) => {
    const props = sel?.props ?? {};
    const code = String(props.code ?? '');
    let d: BuildingDetail;
    try {
      d = (await request<BuildingDetail>(`/api/buildings/${encodeURIComponent(code)}`)).data;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return h('div', {}, facts(app, fromTile(props)), h('p', { class: 'error' }, t('ui.error', { msg })));
    }
    return h('div', { 'data-testid': 'building-panel' }, facts(app, d), staffList(d.staff), visitList(d), householdList(d));
  },
});
