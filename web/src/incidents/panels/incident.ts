// One incident: category, status, what was found, where and when, who reported it and
// who handles it, its photos and its history.
import { get, type Props } from '../../api';
import { t, when } from '../../i18n';
import { categoryName, statusName } from '../categories';
import { h, row } from '../../ui/dom';
import { definePanel } from '../../ui/panels';

interface IncidentView extends Props {
  id: string;
  patrol_id: string | null;
  grid: string;
  category: string;
  description: string;
  reported_at: string;
  reported_by: string;
  status: string;
  status_at: string;
  assignee: { code: string; name: string } | null;
  due_at: string | null;
  overdue: boolean;
  history?: { to?: string; status?: string; at?: string; by?: string; note?: string | null }[];
  photos?: { id: string; content_type: string; bytes: number }[];
}

export default definePanel({
  id: 'incident',
  layers: ['incidents'],
  title: (sel) => categoryName(sel?.props.category),
  render: async (app, sel) => {
    const id = String(sel?.props.id ?? sel?.props.code ?? '');
    const i = await get<IncidentView>(`/api/incidents/${encodeURIComponent(id)}`);
    const photos = i.photos ?? [];
    return h(
      'div',
      {},
      h('p', { 'data-field': 'description' }, i.description),
      h(
        'dl',
        { class: 'facts', 'data-testid': 'incident-facts' },
        row(t('patrol.status'), h('span', { 'data-field': 'status', class: i.overdue ? 'error' : '' }, `${statusName(i.status)}${i.overdue ? ` · ${t('patrol.overdue')}` : ''}`)),
        row(t('ui.grid'), h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(i.grid) }, i.grid)),
        row(t('patrol.reported'), `${when(i.reported_at)} · ${i.reported_by}`),
        row(t('patrol.assignee'), i.assignee ? i.assignee.name : '—'),
        i.due_at ? row(t('patrol.due'), when(i.due_at)) : [],
      ),
      photos.length
        ? h(
            'div',
            { class: 'incident-photos', 'data-testid': 'incident-photos' },
            photos.map((p) => h('a', { href: `/api/incidents/${i.id}/photos/${p.id}`, target: '_blank', rel: 'noopener' }, h('img', { src: `/api/incidents/${i.id}/photos/${p.id}`, alt: t('patrol.photo'), loading: 'lazy' }))),
          )
        : [],
      i.history?.length
        ? [
            h('h3', {}, t('patrol.history')),
            h(
              'ul',
              { class: 'links small' },
              i.history.map((s) => h('li', {}, `${when(s.at)} · ${statusName(s.to ?? s.status)}${s.by ? ` · ${s.by}` : ''}${s.note ? ` · ${s.note}` : ''}`)),
            ),
          ]
        : [],
    );
  },
});
