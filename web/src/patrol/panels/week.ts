// The grid chief's week view: a week picker, the week's status of every grid in reach
// (coloured on the map by the `patrol-week` layer), totals, and the CSV/XLSX export.
// Opening it switches on the week's layers: grids by status, tracks and incidents.
import { num, t } from '../../i18n';
import { length, pct } from '../format';
import { communityShade, compliance, focusCommunity, focused, isoWeek, onWeek, setWeek, shade, SHADE_COLOUR, SHADES, shiftWeek, week, weekDays, type Compliance, type Shade } from '../week';
import { h, row } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';

export const WEEK_LAYERS = ['patrol-week', 'patrol-tracks', 'incidents'];

let current: AppApi | null = null;
let redraw: (() => void) | null = null;

onWeek(() => {
  if (!current) return;
  void current.layers.reload(WEEK_LAYERS);
  redraw?.();
});

function dot(s: Shade): HTMLElement {
  const d = h('span', { class: 'swatch circle' });
  d.style.background = SHADE_COLOUR[s];
  return d;
}

function picker(): HTMLElement {
  const w = week();
  const [mon, sun] = weekDays(w);
  const now = isoWeek(Date.now());
  return h(
    'div',
    { class: 'week-picker', 'data-testid': 'week-picker' },
    h('button', { type: 'button', class: 'icon', 'aria-label': t('patrol.week_prev'), title: t('patrol.week_prev'), 'data-testid': 'week-prev', onclick: () => setWeek(shiftWeek(w, -1)) }, '‹'),
    h('span', { class: 'week-label', 'data-testid': 'week-label' }, h('strong', {}, w), ` ${mon}–${sun}`),
    h('button', { type: 'button', class: 'icon', 'aria-label': t('patrol.week_next'), title: t('patrol.week_next'), 'data-testid': 'week-next', disabled: w >= now, onclick: () => setWeek(shiftWeek(w, 1)) }, '›'),
    w !== now ? h('button', { type: 'button', 'data-testid': 'week-now', onclick: () => setWeek(now) }, t('patrol.week_this')) : null,
  );
}

/** A city's zone: its communities with their week, each opening its grids. */
function communityList(c: Compliance): HTMLElement {
  return h(
    'ul',
    { class: 'week-grids', 'data-testid': 'week-communities' },
    (c.communities ?? []).map((x) =>
      h(
        'li',
        { 'data-community': x.code, 'data-status': communityShade(x.totals) },
        dot(communityShade(x.totals)),
        h('button', { type: 'button', class: 'link', onclick: () => focusCommunity(x.code) }, `${x.name} `, h('span', { class: 'muted small' }, x.code)),
        h('span', { class: 'small muted' }, ` ${num(x.totals.patrolled)} / ${num(x.totals.grid_weeks)} (${pct(x.totals.patrol_rate)})`),
      ),
    ),
  );
}

async function body(app: AppApi): Promise<Node> {
  const w = week();
  const c = await compliance(w);
  const counts = new Map<Shade, number>(SHADES.map((s) => [s, 0]));
  for (const g of c.grids) counts.set(shade(g), (counts.get(shade(g)) ?? 0) + 1);
  if (c.grids_omitted && c.shades) for (const s of Object.values(c.shades)) counts.set(s, (counts.get(s) ?? 0) + 1);
  const summary = h(
    'ul',
    { class: 'week-counts', 'data-testid': 'week-counts' },
    SHADES.filter((s) => (counts.get(s) ?? 0) > 0 || s === 'patrolled').map((s) =>
      h('li', { 'data-status': s }, dot(s), ` ${t(`patrol.week_${s}`)} `, h('strong', { 'data-count': s }, String(counts.get(s) ?? 0))),
    ),
  );
  const tot = c.totals;
  const facts = h(
    'dl',
    { class: 'facts' },
    row(t('patrol.patrol_rate'), `${num(tot.patrolled)} / ${num(tot.grid_weeks)} (${pct(tot.patrol_rate)})`),
    row(t('patrol.track_inside'), length(tot.track_length_inside_m)),
    row(t('patrol.households_visited'), `${num(tot.households_visited)} / ${num(tot.households)} (${pct(tot.household_coverage)})`),
    row(t('patrol.incidents_found'), num(tot.incidents_found)),
  );
  const layer = () => app.layers.data('patrol-week');
  const list = h(
    'ul',
    { class: 'week-grids', 'data-testid': 'week-grids' },
    c.grids.map((g) =>
      h(
        'li',
        { 'data-grid': g.grid, 'data-status': shade(g) },
        dot(shade(g)),
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            onclick: () => {
              const f = layer()?.features.find((x) => x.properties.code === g.grid);
              app.open({ layer: 'patrol-week', props: f?.properties ?? { code: g.grid, name: g.name }, ...(f ? { geometry: f.geometry } : {}) }, { fly: true });
            },
          },
          `${g.name} `,
          h('span', { class: 'muted small' }, g.grid),
        ),
        h('span', { class: 'small muted' }, g.patrolled_by.length ? ` ${g.patrolled_by.join('、')}` : ` ${t(`patrol.week_${shade(g)}`)}`),
      ),
    ),
  );
  const q = `from=${w}&to=${w}${focused() ? `&community=${encodeURIComponent(focused()!)}` : ''}`;
  return h(
    'div',
    {},
    summary,
    facts,
    h('p', { class: 'small muted' }, t('patrol.week_rule', { share: pct(c.rules.min_share_inside), full: pct(c.rules.household_full_marks) })),
    focused()
      ? h('p', { class: 'small' }, h('button', { type: 'button', class: 'link', 'data-testid': 'week-zone', onclick: () => focusCommunity(null) }, `← ${t('ui.show_all')}`))
      : null,
    h('h3', {}, c.grids_omitted ? t('grids.layer_communities') : t('grids.layer_grids2')),
    c.grids_omitted ? communityList(c) : c.grids.length ? list : h('p', { class: 'muted' }, t('ui.none')),
    h(
      'p',
      { class: 'small' },
      `${t('patrol.export')}: `,
      h('a', { href: `/api/compliance/export?${q}&format=csv`, download: `compliance-${w}.csv` }, 'CSV'),
      ' · ',
      h('a', { href: `/api/compliance/export?${q}&format=xlsx`, download: `compliance-${w}.xlsx` }, 'XLSX'),
    ),
  );
}

export default definePanel({
  id: 'patrol-week',
  tool: { title: 'patrol.week_view', icon: '⚑' },
  requires: ['patrols', 'read'],
  title: () => t('patrol.week_view'),
  render: async (app) => {
    current = app;
    for (const id of WEEK_LAYERS) if (app.layers.states.get(id) && !app.layers.states.get(id)!.visible) app.layers.setVisible(id, true);
    const root = h('div', { class: 'week-view', 'data-testid': 'week-view' });
    const content = h('div', {});
    let token = 0;
    const draw = async () => {
      const mine = ++token;
      root.replaceChildren(picker(), content);
      content.replaceChildren(h('p', { class: 'muted' }, t('ui.loading')));
      try {
        const b = await body(app);
        if (mine === token) content.replaceChildren(b);
      } catch (e) {
        if (mine === token) content.replaceChildren(h('p', { class: 'error' }, t('ui.error', { msg: e instanceof Error ? e.message : String(e) })));
      }
    };
    redraw = () => {
      if (root.isConnected) void draw();
    };
    await draw();
    return root;
  },
});
