// One grid's week, from the week view's map: patrolled or not, by whom, the patrols that
// named it (and whether each counts), length walked inside, street and household
// coverage, incidents found.
import { num, t, when } from '../../i18n';
import { length, pct } from '../format';
import { compliance, focusCommunity, shade, SHADE_COLOUR, week } from '../week';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

export default definePanel({
  id: 'grid-week',
  layers: ['patrol-week'],
  title: (sel) => `${String(sel?.props.name ?? sel?.props.code ?? t('ui.grid'))} · ${week()}`,
  render: async (app, sel) => {
    const code = String(sel?.props.code ?? '');
    if (sel?.props.kind === 'community') {
      // A city's zone shows communities: a click opens the community's grids.
      focusCommunity(code);
      return h('p', { class: 'muted' }, `${String(sel.props.name ?? code)}: ${num(Number(sel.props.patrolled ?? 0))} / ${num(Number(sel.props.grid_weeks ?? 0))}`);
    }
    const c = await compliance();
    const g = c.grids.find((r) => r.grid === code);
    if (!g) return h('p', { class: 'muted' }, t('ui.none'));
    const s = shade(g);
    const badge = h('span', { class: 'week-badge', 'data-field': 'week_status', 'data-status': s }, t(`patrol.week_${s}`));
    badge.style.background = SHADE_COLOUR[s];
    const tracks = app.layers.data('patrol-tracks');
    const patrols = h(
      'ul',
      { class: 'links', 'data-testid': 'grid-week-patrols' },
      g.patrols.map((p) => {
        const f = tracks?.features.find((x) => x.properties.id === p.id);
        return h(
          'li',
          { 'data-patrol': p.id, 'data-counts': String(p.counts) },
          h(
            'button',
            { type: 'button', class: 'link', disabled: !f, onclick: () => f && app.open({ layer: 'patrol-tracks', props: f.properties, geometry: f.geometry }, { fly: true }) },
            `${p.by} · ${when(p.started_at)}`,
          ),
          h('span', { class: 'small muted' }, ` ${length(p.length_inside_m)} · ${pct(p.share_inside)} ${p.counts ? t('patrol.counts') : t('patrol.not_counted')}`),
        );
      }),
    );
    return h(
      'div',
      {},
      h(
        'dl',
        { class: 'facts', 'data-testid': 'grid-week-facts' },
        row(t('ui.code'), h('span', { 'data-field': 'code' }, g.grid)),
        row(t('patrol.week'), g.week),
        row(t('patrol.status'), badge),
        row(t('patrol.patrolled_by'), h('span', { 'data-field': 'patrolled_by' }, g.patrolled_by.join('、') || '—')),
        row(t('patrol.track_inside'), h('span', { 'data-field': 'track_inside' }, length(g.track_length_inside_m))),
        row(t('patrol.street_coverage'), g.street_coverage === null ? t('ui.not_provided') : `${pct(g.street_coverage)} (${length(g.street_covered_m)} / ${length(g.street_length_m)})`),
        row(
          t('patrol.households_visited'),
          h('span', { 'data-field': 'households_visited' }, `${num(g.households_visited)} / ${num(g.households)} (${pct(g.household_coverage)})${g.household_full_marks ? ` ✓ ${t('patrol.full_marks')}` : ''}`),
        ),
        row(t('patrol.incidents_found'), h('span', { 'data-field': 'incidents_found' }, num(g.incidents_found))),
        row(t('grids.chief'), g.chief ?? '—'),
      ),
      h('h3', {}, t('patrol.patrols')),
      g.patrols.length ? patrols : h('p', { class: 'muted' }, t('ui.none')),
      h('p', {}, h('button', { type: 'button', onclick: () => void app.openGrid(code) }, t('patrol.grid_details'))),
    );
  },
});
