// One patrol of the week view (a track on the map): who, when, the track's length and
// speed flags, the share walked inside each grid, households visited and incidents.
import { get, type Props } from '../../api';
import { lang, num, t, when } from '../../i18n';
import { duration, length, pct } from '../format';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

interface PatrolView extends Props {
  id: string;
  account: string;
  staff: { code: string; name: string } | null;
  started_at: string;
  ended_at: string | null;
  notes: string | null;
  grids: { code: string; name: string; length_inside_m: number | null; share_inside: number | null }[];
  households: { building: string; households: number }[];
  chunks: { expected: number | null; received: number[]; missing: number[]; complete: boolean };
  complete: boolean;
  points: number | null;
  length_m: number | null;
  walked_m: number | null;
  max_speed_kmh: number | null;
  speed_flags: unknown[];
  incidents: string[];
}

export default definePanel({
  id: 'patrol',
  layers: ['patrol-tracks'],
  title: () => t('patrol.patrol'),
  render: async (_app, sel) => {
    const id = String(sel?.props.id ?? sel?.props.code ?? '');
    const p = await get<PatrolView>(`/api/patrols/${encodeURIComponent(id)}`);
    const ms = p.ended_at ? Date.parse(p.ended_at) - Date.parse(p.started_at) : null;
    return h(
      'div',
      {},
      h(
        'dl',
        { class: 'facts', 'data-testid': 'patrol-facts' },
        row(t('patrol.patrolled_by'), p.staff ? `${p.staff.name} (${p.staff.code})` : p.account),
        row(t('patrol.started'), h('span', { 'data-field': 'started' }, when(p.started_at))),
        row(t('patrol.ended'), p.ended_at ? `${when(p.ended_at)}${ms !== null ? ` · ${duration(ms)}` : ''}` : '—'),
        row(t('patrol.points'), h('span', { 'data-field': 'points' }, num(p.points))),
        row(t('patrol.track_length'), `${length(p.length_m)} (${t('patrol.walked')} ${length(p.walked_m)})`),
        row(t('patrol.max_speed'), p.max_speed_kmh === null ? '—' : `${num(p.max_speed_kmh, 1)} km/h`),
        p.speed_flags.length ? row(t('patrol.speed_flags'), h('span', { class: 'error' }, num(p.speed_flags.length))) : [],
        row(t('patrol.complete'), p.complete ? '✓' : `${t('patrol.incomplete')} (${p.chunks.missing.join(', ') || '…'})`),
        row(t('patrol.households_visited'), h('span', { 'data-field': 'households' }, num(p.households.reduce((s, v) => s + v.households, 0)))),
        row(t('patrol.incidents_found'), num(p.incidents.length)),
        p.notes ? row(t('patrol.notes'), p.notes) : [],
      ),
      h('h3', {}, t('patrol.grids_walked')),
      h(
        'ul',
        { class: 'links' },
        p.grids.map((g) => h('li', {}, `${g.name} (${g.code}) `, h('span', { class: 'muted small' }, `${length(g.length_inside_m)} · ${pct(g.share_inside)}`))),
      ),
      p.households.length
        ? [h('h3', {}, t('patrol.buildings_visited')), h('ul', { class: 'links' }, p.households.map((v) => h('li', {}, `${v.building} · ${t('ui.households_count', { n: num(v.households) })}`)))]
        : [],
      h('p', { class: 'small muted' }, `${lang() === 'en' ? 'Id' : '编号'} ${p.id}`),
    );
  },
});
