// The incidents panel (事件, a header button with the open count): the open incidents of
// the caller's scope, the most overdue first, filtered by status, category, grid and
// "overdue only"; each row shows category, grid, when and by whom it was reported, the time
// left or overdue by and a thumbnail of its first photo, and opens the incident's panel.
import type { Point } from 'geojson';
import { lang, t, when } from '../../i18n';
import { CATEGORIES, categoryName, statusName } from '../../patrol/categories';
import { h } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';
import '../incidents.css';
import { onOpen, openCounts, openIncidents, openRows, timeLeft, type IncidentRow } from '../open';

const OPEN_STATUSES = ['reported', 'assigned', 'in_progress', 'resolved'];

/** The filters chosen, kept while the app runs. */
const chosen = { status: '', category: '', grid: '', overdue: false };

function select(name: string, label: string, options: [string, string][], value: string, changed: (v: string) => void): HTMLElement {
  const s = h('select', { 'data-testid': `incidents-filter-${name}`, onchange: () => changed(s.value) }, h('option', { value: '' }, t('incidents.filter_all')), options.map(([v, l]) => h('option', { value: v }, l)));
  s.value = value;
  return h('label', { class: 'filter' }, `${label} `, s);
}

function rowOf(app: AppApi, r: IncidentRow, point: Point | undefined): HTMLElement {
  return h(
    'li',
    { class: `incident-row${r.overdue ? ' overdue' : ''}`, 'data-testid': 'incident-row', 'data-id': r.id, 'data-overdue': r.overdue ? '1' : '0' },
    h(
      'button',
      { type: 'button', class: 'incident-open', onclick: () => app.open({ layer: 'open_incidents', props: r, ...(point ? { geometry: point } : {}) }, { fly: true }) },
      r.photo ? h('img', { class: 'thumb', src: `/api/incidents/${r.id}/photos/${r.photo}`, alt: t('patrol.photo'), loading: 'lazy' }) : h('span', { class: 'thumb none' }),
      h(
        'span',
        { class: 'incident-text' },
        h('strong', {}, categoryName(r.category)),
        ` · ${statusName(r.status)} · ${r.grid}`,
        h('br'),
        h('span', { class: 'muted small' }, t('incidents.reported_by', { when: when(r.reported_at), who: r.reported_by })),
        h('br'),
        h('span', { class: r.overdue ? 'error small' : 'small', 'data-field': 'time-left' }, timeLeft(r)),
      ),
    ),
  );
}

/** This month in Asia/Shanghai, as `YYYY-MM`. */
function thisMonth(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7);
}

/** The monthly report's links (CSV and XLSX, for people in the interface's language) for
 * the month chosen; see src/http/incident_report.rs. */
function monthlyReport(): HTMLElement {
  const month = h('input', { type: 'month', value: thisMonth(), max: thisMonth(), 'data-testid': 'incidents-report-month' });
  const link = (format: string) => {
    const a = h('a', { class: 'button', 'data-testid': `incidents-report-${format}`, download: '' }, format.toUpperCase());
    const set = () => (a.href = `/api/incidents/report?month=${month.value || thisMonth()}&format=${format}&lang=${lang() === 'en' ? 'en' : 'zh'}`);
    month.addEventListener('change', set);
    set();
    return a;
  };
  return h(
    'details',
    { class: 'incident-report', 'data-testid': 'incidents-report' },
    h('summary', {}, t('incidents.report')),
    h('p', { class: 'muted small' }, t('incidents.report_hint')),
    h('label', { class: 'filter' }, `${t('incidents.report_month')} `, month),
    ' ',
    link('csv'),
    ' ',
    link('xlsx'),
  );
}

async function render(app: AppApi): Promise<Node> {
  app.layers.setVisible('open_incidents', true);
  const fc = await openIncidents();
  const rows = await openRows();
  const points = new Map(fc.features.map((f) => [String(f.properties.id), f.geometry as Point]));
  const grids = [...new Set(rows.map((r) => r.grid))].sort();
  const list = h('ul', { class: 'incident-list', 'data-testid': 'incident-list' });
  const shown = h('p', { class: 'muted small', 'data-testid': 'incidents-shown' });
  const draw = () => {
    const keep = rows.filter(
      (r) =>
        (!chosen.status || r.status === chosen.status) &&
        (!chosen.category || r.category === chosen.category) &&
        (!chosen.grid || r.grid === chosen.grid) &&
        (!chosen.overdue || r.overdue),
    );
    list.replaceChildren(...(keep.length ? keep.map((r) => rowOf(app, r, points.get(r.id))) : [h('li', { class: 'muted' }, t('incidents.none'))]));
    shown.textContent = t('incidents.shown', { n: keep.length });
  };
  const set = (k: 'status' | 'category' | 'grid') => (v: string) => {
    chosen[k] = v;
    draw();
  };
  const overdue = h('input', { type: 'checkbox', 'data-testid': 'incidents-filter-overdue', onchange: () => ((chosen.overdue = overdue.checked), draw()) });
  overdue.checked = chosen.overdue;
  draw();
  return h(
    'div',
    { 'data-testid': 'incidents-panel' },
    h(
      'div',
      { class: 'filters' },
      select('status', t('incidents.filter_status'), OPEN_STATUSES.map((s) => [s, statusName(s)]), chosen.status, set('status')),
      select('category', t('incidents.filter_category'), CATEGORIES.map((c) => [c.id, categoryName(c.id)]), chosen.category, set('category')),
      select('grid', t('incidents.filter_grid'), grids.map((g) => [g, g]), chosen.grid, set('grid')),
      h('label', { class: 'filter' }, overdue, ` ${t('incidents.overdue_only')}`),
    ),
    shown,
    list,
    monthlyReport(),
  );
}

export default definePanel({
  id: 'incidents',
  tool: {
    title: 'incidents.title',
    icon: '事',
    badge: {
      text: () => {
        const c = openCounts();
        return c && c.open > 0 ? { text: String(c.open), title: t('incidents.badge_title', c) } : { text: '', title: '' };
      },
      watch: (f) => {
        onOpen(f);
        void openIncidents().catch(() => undefined);
      },
    },
  },
  requires: ['incidents', 'read'],
  title: () => t('incidents.title'),
  render,
});
