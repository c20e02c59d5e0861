// The planner's panel of the ten-minute service circle (a toolbar tool): choose kinds and
// minutes and see grids coloured by the share covered and the uncovered buildings; click
// stations for isochrones; place, move and remove stations in an unsaved what-if scenario
// and see the figures change; save it (planners and administrators); propose sites with
// their gains; download the report. The state lives in src/coverage/planner.ts.
import { lang, num, t } from '../../i18n';
import { stationName } from '../../stations/kinds';
import { h } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';
import { reportUrl } from '../api';
import type { PlanItem } from '../mapdata';
import { plannerOf, type Planner } from '../planner';
import '../coverage.css';
import { communitiesView, gridsView, kindSelect, omittedView, scenarioFigures, settingsView, totalsView } from '../view';

function status(pl: Planner): HTMLElement | null {
  if (pl.error) return h('p', { class: 'error', 'data-testid': 'cov-error' }, pl.error === 'kind_one_needed' ? t('coverage.kind_one_needed') : pl.error);
  if (pl.busy) return h('p', { class: 'muted' }, t('coverage.computing'));
  return pl.base ? h('p', { class: 'muted small' }, t('coverage.computed', { ms: num(pl.base.elapsed_ms, 0) })) : null;
}

function gridInfo(pl: Planner): HTMLElement | null {
  const g = pl.grid;
  if (!g) return null;
  const p = g.pct === null ? t('coverage.no_residents') : `${num(g.pct, 1)}%`;
  return h('p', { class: 'small', 'data-testid': 'cov-grid' }, t('coverage.grid_info', { name: g.name, c: num(g.covered), t: num(g.residents), p }));
}

/** The selected station: its isochrone, and moving or removing it in the scenario. */
function selectedView(pl: Planner): HTMLElement | null {
  const s = pl.selected;
  if (!s) return null;
  const item = pl.plan.find((p) => p.code === s.code);
  const existing = !item || item.op !== 'add';
  const removed = item?.op === 'remove';
  const btn = (testid: string, label: string, f: () => void) => h('button', { type: 'button', 'data-testid': testid, onclick: f }, label);
  // A new or moved station is walked from where the scenario puts it.
  const at = item && item.op !== 'remove' ? item.at : undefined;
  const iso = btn('cov-iso', t(pl.iso.has(s.code) ? 'coverage.hide_iso' : 'coverage.show_iso'), () => void pl.toggleIso(s.code, s.kind, at).catch((e: unknown) => pl.app.toast(String(e), 'error')));
  const actions = [
    iso,
    removed ? null : btn('cov-move', t('coverage.move'), () => pl.setMode('move')),
    existing && !removed ? btn('cov-remove', t('coverage.remove'), () => pl.removeSelected()) : null,
    item ? btn('cov-drop', removed ? t('coverage.restore') : t('coverage.drop'), () => pl.drop(s.code)) : null,
  ];
  return h(
    'section',
    { class: 'cov-selected', 'data-testid': 'cov-selected', 'data-code': s.code },
    h('h3', {}, `${t('coverage.selected')}: ${s.name || stationName(s.kind)}`),
    h('p', { class: 'small' }, `${stationName(s.kind)} · ${s.code}`),
    h('div', { class: 'cov-row' }, actions),
    pl.mode === 'move' ? h('p', { class: 'cov-hint' }, t('coverage.moving')) : null,
  );
}

function changeRow(pl: Planner, p: PlanItem): HTMLElement {
  const op = t(p.op === 'add' ? 'coverage.op_add' : p.op === 'move' ? 'coverage.op_move' : 'coverage.op_remove');
  return h(
    'li',
    { 'data-code': p.code, 'data-op': p.op },
    `${op} · ${stationName(p.kind)} `,
    h('button', { type: 'button', class: 'link', onclick: () => pl.select({ code: p.code, kind: p.kind, name: p.name, at: p.at, planned: true }) }, p.name || p.code),
    ' ',
    h('button', { type: 'button', class: 'link', title: t('coverage.drop'), 'aria-label': t('coverage.drop'), onclick: () => pl.drop(p.code) }, '×'),
  );
}

/** Saving: a confirmation first; only for accounts that may write coverage scenarios. */
function saveView(pl: Planner): HTMLElement {
  if (!pl.app.can('coverage', 'write')) return h('p', { class: 'muted small', 'data-testid': 'cov-save-denied' }, t('coverage.save_denied'));
  const box = h('div', { class: 'cov-row' });
  const ask = () => {
    const n = (op: PlanItem['op']) => pl.plan.filter((p) => p.op === op).length;
    box.replaceChildren(
      h('p', { class: 'small' }, t('coverage.save_confirm', { a: n('add'), m: n('move'), r: n('remove') })),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'cov-save-confirm', onclick: () => void save() }, t('coverage.confirm')),
      h('button', { type: 'button', onclick: () => box.replaceChildren(first) }, t('coverage.cancel')),
    );
  };
  const save = async () => {
    const n = pl.plan.length;
    try {
      await pl.save();
      pl.app.toast(t('coverage.saved', { n }));
    } catch (e) {
      pl.app.toast(e instanceof Error ? e.message : String(e), 'error');
    }
  };
  const first = h('button', { type: 'button', class: 'primary', 'data-testid': 'cov-save', onclick: ask }, t('coverage.save'));
  box.append(first);
  return box;
}

function scenarioView(pl: Planner): HTMLElement {
  const placing = pl.mode === 'place';
  const place = h('button', { type: 'button', 'data-testid': 'cov-place', 'aria-pressed': String(placing), onclick: () => pl.setMode(placing ? 'idle' : 'place') }, t('coverage.place'));
  const kind = kindSelect('cov-new-kind', pl.newKind, (k) => { pl.newKind = k; });
  const sc = pl.scenario;
  return h(
    'section',
    { class: 'cov-whatif' },
    h('h3', {}, t('coverage.whatif')),
    h('label', { class: 'cov-field' }, t('coverage.new_kind'), kind),
    h('div', { class: 'cov-row' }, place),
    placing ? h('p', { class: 'cov-hint' }, t('coverage.placing')) : h('p', { class: 'muted small' }, t('coverage.whatif_help')),
    pl.plan.length ? h('ul', { class: 'links', 'data-testid': 'cov-changes' }, pl.plan.map((p) => changeRow(pl, p))) : h('p', { class: 'muted small' }, t('coverage.no_changes')),
    sc && pl.plan.length ? scenarioFigures(sc.before, sc.after, sc.change) : null,
    pl.plan.length ? h('div', { class: 'cov-row' }, h('button', { type: 'button', onclick: () => pl.discard() }, t('coverage.discard')), saveView(pl)) : null,
  );
}

function sitingView(pl: Planner): HTMLElement {
  const k = h('input', { type: 'number', min: 1, max: 50, value: pl.k, class: 'cov-num', 'data-testid': 'cov-k' });
  k.addEventListener('change', () => {
    pl.k = Math.min(50, Math.max(1, Math.round(Number(k.value) || 1)));
  });
  const r = pl.sites;
  const picks = (r?.picks ?? []).map((p, i) =>
    h(
      'li',
      { 'data-index': i },
      h('strong', {}, t('coverage.pick_n', { n: i + 1 })),
      ' ',
      t('coverage.gain', { r: num(p.gain_residents), h: num(p.gain_households), b: num(p.gain_buildings) }),
      h('span', { hidden: true, 'data-field': 'gain_residents' }, String(p.gain_residents)),
      ' ',
      h('button', { type: 'button', class: 'link', onclick: () => pl.adopt([i]) }, t('coverage.add_to_plan')),
    ),
  );
  return h(
    'section',
    { class: 'cov-siting' },
    h('h3', {}, t('coverage.siting')),
    h('p', { class: 'muted small' }, t('coverage.siting_help')),
    h('div', { class: 'cov-row' }, h('label', {}, `${t('coverage.k')} `, k), h('button', { type: 'button', 'data-testid': 'cov-siting-run', onclick: () => void pl.siting() }, t('coverage.run_siting'))),
    r ? h('p', { class: 'small' }, t('coverage.siting_total', { a: num(r.residents_covered_before), b: num(r.residents_covered_after), t: num(r.residents_total) })) : null,
    picks.length ? h('ol', { class: 'cov-sites', 'data-testid': 'cov-sites' }, picks) : null,
    picks.length > 1 ? h('button', { type: 'button', onclick: () => pl.adopt(picks.map((_, i) => i)) }, t('coverage.add_all')) : null,
  );
}

function reportView(pl: Planner): HTMLElement {
  // `download` without a name: the server's file name (十分钟服务圈_助老养老站_10分钟_<date>.xlsx) is kept.
  const link = (f: 'csv' | 'xlsx') => h('a', { href: reportUrl(pl.setting, f, lang() === 'en' ? 'en' : 'zh'), download: '', 'data-testid': `cov-report-${f}` }, f.toUpperCase());
  return h('section', { class: 'cov-report' }, h('h3', {}, t('coverage.report')), h('div', { class: 'cov-row' }, link('csv'), link('xlsx')));
}

function isoRow(pl: Planner): HTMLElement | null {
  if (!pl.iso.size) return null;
  return h('p', { class: 'small' }, t('coverage.iso_note', { min: num(pl.setting.minutes, 1) }), ' ', h('button', { type: 'button', class: 'link', onclick: () => pl.clearIso() }, t('coverage.clear_iso')));
}

function view(pl: Planner): Node[] {
  return [
    settingsView(pl),
    status(pl),
    pl.base ? h('section', {}, h('h3', {}, t('coverage.summary')), totalsView(pl.base.totals), omittedView(pl), communitiesView(pl)) : null,
    gridsView(pl),
    gridInfo(pl),
    selectedView(pl),
    isoRow(pl),
    scenarioView(pl),
    sitingView(pl),
    reportView(pl),
  ].filter((n): n is HTMLElement => n !== null);
}

/** Re-renders `root` on every change of the planner, until the panel has gone (it is not
 * in the page yet at the first changes). */
function bind(pl: Planner, root: HTMLElement): void {
  let shown = false;
  const render = () => {
    root.dataset.busy = pl.busy ? '1' : '0';
    root.replaceChildren(...view(pl));
  };
  const stop = pl.onChange(() => {
    if (root.isConnected) shown = true;
    else if (shown) return stop();
    render();
  });
  render();
}

export default definePanel({
  id: 'coverage',
  tool: { title: 'coverage.title', icon: '◎' },
  requires: ['coverage', 'read'],
  title: () => t('coverage.title'),
  render: (app: AppApi) => {
    const pl = plannerOf(app);
    const root = h('div', { class: 'cov-panel', 'data-testid': 'cov-root' });
    bind(pl, root);
    app.setTool(pl.tool());
    if (!pl.base) void pl.refresh();
    else void pl.draw();
    return root;
  },
  closed: (app) => {
    const pl = plannerOf(app);
    pl.setMode('idle');
    app.setTool(null);
  },
});
