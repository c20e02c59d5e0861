// The upper half of the planner's panel: the setting (kinds, minutes, speed, community) and
// the figures of today and of the scenario. Every element the browser test reads carries a
// `data-testid` or `data-field`.
import { num, t } from '../i18n';
import { STATION_KINDS, stationName } from '../stations/kinds';
import { h, row } from '../ui/dom';
import { ONE_PLUS_EIGHT, type Named, type Totals } from './api';
import type { Planner } from './planner';

/** Preset walking times (GB 50180's five-, ten- and fifteen-minute circles). */
const PRESETS = [5, 10, 15] as const;

type ModeChoice = 'one' | 'any' | 'all' | 'p18';

function modeOf(pl: Planner): ModeChoice {
  return pl.p18 ? 'p18' : pl.setting.mode;
}

function kindOptions(selected: string): HTMLOptionElement[] {
  return STATION_KINDS.map((k) => h('option', { value: k.id, selected: k.id === selected }, stationName(k.id)));
}

/** A `<select>` of station kinds that calls `set` with the choice. */
export function kindSelect(testid: string, selected: string, set: (k: string) => void): HTMLSelectElement {
  const sel = h('select', { 'data-testid': testid }, kindOptions(selected));
  sel.addEventListener('change', () => set(sel.value));
  return sel;
}

function modeSelect(pl: Planner): HTMLElement {
  const choices: ModeChoice[] = ['one', 'any', 'all', 'p18'];
  const sel = h('select', { 'data-testid': 'cov-mode' }, choices.map((m) => h('option', { value: m, selected: modeOf(pl) === m }, t(`coverage.mode_${m}`))));
  sel.addEventListener('change', () => {
    const m = sel.value as ModeChoice;
    pl.p18 = m === 'p18';
    pl.setting.mode = m === 'p18' ? 'all' : m;
    if (pl.p18) pl.setting.kinds = [...ONE_PLUS_EIGHT];
    void pl.refresh();
  });
  return sel;
}

function kindChecks(pl: Planner): HTMLElement {
  const box = (k: string) => {
    const c = h('input', { type: 'checkbox', value: k, checked: pl.setting.kinds.includes(k) });
    c.addEventListener('change', () => {
      pl.setting.kinds = STATION_KINDS.map((s) => s.id).filter((x) => (x === k ? c.checked : pl.setting.kinds.includes(x)));
      void pl.refresh();
    });
    return h('label', { class: 'cov-kind' }, c, ` ${stationName(k)}`);
  };
  return h('div', { class: 'cov-kinds', 'data-testid': 'cov-kinds' }, STATION_KINDS.map((k) => box(k.id)));
}

function minutesRow(pl: Planner): HTMLElement {
  const s = pl.setting;
  const preset = (m: number) =>
    h('button', { type: 'button', 'data-testid': `cov-minutes-${m}`, 'aria-pressed': String(s.minutes === m), onclick: () => { s.minutes = m; void pl.refresh(); } }, `${m}`);
  const custom = h('input', { type: 'number', min: 1, max: 60, step: 1, value: s.minutes, 'data-testid': 'cov-minutes', 'aria-label': t('coverage.custom'), class: 'cov-num' });
  custom.addEventListener('change', () => {
    const v = Number(custom.value);
    if (v > 0 && v <= 60) {
      s.minutes = v;
      void pl.refresh();
    }
  });
  return h('div', { class: 'cov-row' }, PRESETS.map(preset), custom, ` ${t('coverage.minutes_unit')}`);
}

function speedRow(pl: Planner): HTMLElement {
  const s = pl.setting;
  const input = h('input', { type: 'number', min: 10, max: 200, step: 1, value: s.speed ?? '', placeholder: t('coverage.speed_default'), class: 'cov-num', 'data-testid': 'cov-speed', title: t('coverage.speed_hint') });
  input.addEventListener('change', () => {
    const v = Number(input.value);
    s.speed = input.value === '' ? null : v >= 10 && v <= 200 ? v : s.speed;
    void pl.refresh();
  });
  return h('div', { class: 'cov-row' }, input, ` ${t('coverage.speed_unit')}`);
}

function communitySelect(pl: Planner): HTMLElement {
  const list = pl.communities;
  const opts = [h('option', { value: '' }, t('coverage.all_communities')), ...list.map((c) => h('option', { value: c.code, selected: pl.setting.community === c.code }, c.name))];
  const sel = h('select', { 'data-testid': 'cov-community' }, opts);
  sel.addEventListener('change', () => {
    pl.setting.community = sel.value || null;
    void pl.refresh();
  });
  return sel;
}

/** The setting form. */
export function settingsView(pl: Planner): HTMLElement {
  const s = pl.setting;
  const kinds = s.mode === 'one' ? kindSelect('cov-kind', s.kind, (k) => { s.kind = k; pl.newKind = k; void pl.refresh(); }) : pl.p18 ? null : kindChecks(pl);
  const echo = pl.base?.setting;
  return h(
    'section',
    { class: 'cov-settings' },
    h('h3', {}, t('coverage.settings')),
    h('label', { class: 'cov-field' }, t('coverage.kinds'), modeSelect(pl)),
    kinds,
    h('label', { class: 'cov-field' }, t('coverage.minutes'), minutesRow(pl)),
    h('label', { class: 'cov-field' }, t('coverage.speed'), speedRow(pl)),
    h('label', { class: 'cov-field' }, t('coverage.community'), communitySelect(pl)),
    echo ? h('p', { class: 'muted small' }, t('coverage.walk', { m: num(echo.cutoff_m), min: num(echo.minutes, 1), v: num(echo.speed_m_per_min, 1) })) : null,
  );
}

const pct = (v: number | null) => (v === null ? '—' : `${num(v, 1)}%`);

function field(name: string, text: string): HTMLElement {
  return h('span', { 'data-field': name }, text);
}

/** Today's figures: residents and households covered, uncovered buildings. */
export function totalsView(n: Totals): HTMLElement {
  return h(
    'dl',
    { class: 'facts', 'data-testid': 'cov-summary' },
    row(t('coverage.residents_covered'), [field('residents_covered', num(n.residents_covered)), ` / ${num(n.residents)} · `, field('residents_pct', pct(n.residents_pct))]),
    row(t('coverage.households_covered'), [field('households_covered', num(n.households_covered)), ` / ${num(n.households)} · `, field('households_pct', pct(n.households_pct))]),
    row(t('coverage.buildings_covered'), [field('buildings_covered', num(n.buildings_covered)), ` / ${num(n.buildings)}`]),
    row(t('coverage.uncovered_buildings'), field('buildings_uncovered', num(n.buildings - n.buildings_covered))),
  );
}

const signed = (n: number) => `${n > 0 ? '+' : ''}${num(n)}`;

/** The scenario's figures against today's. */
export function scenarioFigures(before: Totals, after: Totals, change: { residents_covered: number; households_covered: number }): HTMLElement {
  return h(
    'dl',
    { class: 'facts', 'data-testid': 'cov-scenario' },
    row(t('coverage.before_after'), ''),
    row(t('coverage.residents_covered'), [num(before.residents_covered), ' → ', field('after_residents_covered', num(after.residents_covered)), ` (${pct(after.residents_pct)})`]),
    row(t('coverage.households_covered'), [num(before.households_covered), ' → ', field('after_households_covered', num(after.households_covered)), ` (${pct(after.households_pct)})`]),
    row(t('coverage.change'), [field('change_residents', signed(change.residents_covered)), ` ${t('coverage.people')} · `, field('change_households', signed(change.households_covered)), ` ${t('coverage.households_u')}`]),
  );
}

/** Says that the grids are left out for a city seen whole, and how to see them. */
export function omittedView(pl: Planner): HTMLElement | null {
  const d = pl.scenario?.after_detail ?? pl.base;
  if (!d?.grids2_omitted) return null;
  return h('p', { class: 'hint', 'data-testid': 'cov-grids-omitted' }, t('coverage.grids_omitted', { n: num(d.grids2_count ?? 0) }));
}

/** Residents covered per community. */
export function communitiesView(pl: Planner): HTMLElement | null {
  const list = pl.scenario?.after_detail.communities ?? pl.base?.communities ?? [];
  if (list.length < 2) return null;
  const rows = list.map((c) => h('tr', {}, h('td', {}, c.name), h('td', { class: 'num' }, num(c.residents_covered)), h('td', { class: 'num' }, num(c.residents)), h('td', { class: 'num' }, pct(c.residents_pct))));
  const head = h('tr', {}, h('th', {}, t('coverage.community')), h('th', {}, t('coverage.covered')), h('th', {}, t('coverage.residents')), h('th', {}, '%'));
  return h('details', {}, h('summary', {}, t('coverage.per_community')), h('table', { class: 'cov-table' }, h('thead', {}, head), h('tbody', {}, rows)));
}

/** A number cell the browser test reads by its `data-field`. */
function cell(name: string, value: number): HTMLElement {
  return h('td', { class: 'num', 'data-field': name }, num(value));
}

/** Per second-level grid of the chosen community: buildings and residents covered and not,
 * the share of residents covered, and with several kinds, that share for each kind. */
export function gridsView(pl: Planner): HTMLElement | null {
  const d = pl.scenario?.after_detail ?? pl.base;
  const code = pl.setting.community;
  if (!code || !d || d.grids2_omitted || !d.grids2.length) return null;
  const name = pl.communities.find((c) => c.code === code)?.name ?? code;
  const grids = [...d.grids2].sort((a, b) => a.code.localeCompare(b.code));
  const rows = grids.map((g) =>
    h(
      'tr',
      { 'data-code': g.code },
      h('td', {}, g.name),
      cell('buildings_covered', g.buildings_covered),
      cell('buildings_uncovered', g.buildings - g.buildings_covered),
      cell('residents_covered', g.residents_covered),
      cell('residents_uncovered', g.residents - g.residents_covered),
      h('td', { class: 'num', 'data-field': 'residents_pct' }, pct(g.residents_pct)),
    ),
  );
  const head = [
    h('tr', {}, h('th', { rowspan: 2 }, t('coverage.grid_col')), h('th', { colspan: 2 }, t('coverage.buildings')), h('th', { colspan: 2 }, t('coverage.residents')), h('th', { rowspan: 2 }, '%')),
    h('tr', {}, [1, 2].flatMap(() => [h('th', {}, t('coverage.covered')), h('th', {}, t('coverage.not_covered'))])),
  ];
  return h(
    'section',
    { 'data-testid': 'cov-grids', 'data-community': code },
    h('h3', {}, t('coverage.per_grid', { name })),
    h('div', { class: 'cov-scroll' }, h('table', { class: 'cov-table' }, h('thead', {}, head), h('tbody', {}, rows))),
    kindsTable(pl.perKind, grids),
  );
}

/** The share of residents each kind covers, per grid (today's stations). */
function kindsTable(perKind: { kind: string; grids: Named[] }[], grids: Named[]): HTMLElement | null {
  if (!perKind.length) return null;
  const byKind = perKind.map((k) => ({ kind: k.kind, of: new Map(k.grids.map((g) => [g.code, g])) }));
  const head = h('tr', {}, h('th', {}, t('coverage.grid_col')), byKind.map((k) => h('th', {}, stationName(k.kind))));
  const rows = grids.map((g) =>
    h('tr', { 'data-code': g.code }, h('td', {}, g.name), byKind.map((k) => h('td', { class: 'num', 'data-kind': k.kind }, pct(k.of.get(g.code)?.residents_pct ?? null)))),
  );
  return h(
    'div',
    { 'data-testid': 'cov-grids-kinds' },
    h('h4', {}, t('coverage.per_grid_kind')),
    h('div', { class: 'cov-scroll' }, h('table', { class: 'cov-table' }, h('thead', {}, head), h('tbody', {}, rows))),
  );
}
