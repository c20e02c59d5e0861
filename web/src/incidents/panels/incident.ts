// One incident: category, status, what was found, where and when, who reported it and
// who handles it, its photos; the next steps the caller may take (`GET
// /api/incidents/{id}/next`) as buttons, each a `POST /api/incidents/{id}/transitions`;
// and its history (who, when, note) below.
import { get, request } from '../../api';
import { t, when } from '../../i18n';
import { categoryName, statusName } from '../../patrol/categories';
import { uuid } from '../../patrol/ids';
import { h, row } from '../../ui/dom';
import { definePanel, type AppApi, type Selection } from '../../ui/panels';
import { reloadOpen, timeLeft, type IncidentFacts } from '../open';

/** `GET /api/incidents/{id}`: the incident, the patrol it was found on, its history and
 * its photos. */
interface IncidentView extends IncidentFacts {
  patrol_id: string | null;
  history?: { to?: string; status?: string; at?: string; by?: string; assignee?: string | null; note?: string | null }[];
  photos?: { id: string; content_type: string; bytes: number }[];
}

/** `GET /api/incidents/{id}/next`. */
interface NextSteps {
  status: string;
  next: string[];
  assignees: { code: string; name: string; role: string; grid: string }[];
}

/** A step to offer: the status it leads to, its button's words, the note it needs or puts
 * first (a closing's reason). */
interface Offer {
  to: string;
  label: string;
  testid: string;
  needsNote?: boolean;
  reason?: string;
}

/** The buttons for the statuses the caller may move the incident to. */
function offers(status: string, next: string[]): Offer[] {
  const out: Offer[] = [];
  for (const to of next) {
    if (to === 'in_progress' && status === 'resolved') out.push({ to, label: t('incidents.send_back'), testid: 'send_back', needsNote: true });
    else if (to === 'in_progress') out.push({ to, label: t('incidents.start'), testid: 'start' });
    else if (to === 'resolved') out.push({ to, label: t('incidents.resolve'), testid: 'resolve', needsNote: true });
    else if (to === 'verified') out.push({ to, label: t('incidents.verify'), testid: 'verify' });
    else if (to === 'closed' && status === 'verified') out.push({ to, label: t('incidents.close'), testid: 'close' });
    else if (to === 'closed') {
      out.push({ to, label: t('incidents.close_duplicate'), testid: 'close_duplicate', reason: t('incidents.duplicate') });
      out.push({ to, label: t('incidents.close_not_problem'), testid: 'close_not_problem', reason: t('incidents.not_problem') });
    }
  }
  return out;
}

/** Sends one step; on success the open incidents and the map are downloaded again and the
 * panel shows the incident as it is now. */
async function take(app: AppApi, sel: Selection, i: IncidentView, to: string, extra: { assignee?: string; note?: string }): Promise<void> {
  try {
    await request(`/api/incidents/${encodeURIComponent(i.id)}/transitions`, { method: 'POST', body: { id: uuid(), to, from: i.status, ...extra } });
  } catch (e) {
    app.toast(t('incidents.failed', { msg: e instanceof Error ? e.message : String(e) }), 'error');
    return;
  }
  app.toast(t('incidents.done', { status: statusName(to) }));
  await reloadOpen();
  await app.layers.reload(['open_incidents', 'incidents']);
  app.open(sel);
}

/** The "next steps" block: a note, the assignee choice when assigning is allowed, and one
 * button per step. */
function stepsBlock(app: AppApi, sel: Selection, i: IncidentView, n: NextSteps): Node {
  const list = offers(i.status, n.next);
  if (!list.length) return h('p', { class: 'muted small', 'data-testid': 'incident-no-steps' }, t('incidents.no_steps'));
  const note = h('textarea', { 'data-testid': 'incident-note', rows: 2, placeholder: t('incidents.note_placeholder') });
  const text = () => note.value.trim();
  const parts: Node[] = [h('label', { class: 'block' }, t('incidents.note'), note)];
  if (n.next.includes('assigned')) {
    const who = h(
      'select',
      { 'data-testid': 'incident-assignee' },
      n.assignees.map((a) => h('option', { value: a.code }, `${a.name} · ${t(a.role === 'chief' ? 'incidents.grid_staff_chief' : 'incidents.grid_staff_member')} · ${a.grid}`)),
    );
    const label = i.status === 'reported' ? t('incidents.assign') : t('incidents.reassign');
    parts.push(
      h(
        'div',
        { class: 'row' },
        h('label', {}, `${t('incidents.assign_to')} `, who),
        h('button', { type: 'button', 'data-testid': 'step-assign', disabled: n.assignees.length === 0, onclick: () => void take(app, sel, i, 'assigned', { assignee: who.value, ...(text() ? { note: text() } : {}) }) }, label),
      ),
    );
  }
  const buttons = list.map((o) =>
    h(
      'button',
      {
        type: 'button',
        'data-testid': `step-${o.testid}`,
        onclick: () => {
          if (o.needsNote && !text()) {
            app.toast(t('incidents.note_needed'), 'error');
            note.focus();
            return;
          }
          const written = o.reason ? [o.reason, text()].filter(Boolean).join('：') : text();
          void take(app, sel, i, o.to, written ? { note: written } : {});
        },
      },
      o.label,
    ),
  );
  return h('div', { class: 'incident-steps', 'data-testid': 'incident-steps' }, h('h3', {}, t('incidents.next_steps')), parts, h('div', { class: 'buttons' }, buttons));
}

export default definePanel({
  id: 'incident',
  layers: ['incidents', 'open_incidents'],
  title: (sel) => categoryName(sel?.props.category),
  render: async (app, sel) => {
    const id = encodeURIComponent(String(sel?.props.id ?? sel?.props.code ?? ''));
    const [i, n] = await Promise.all([get<IncidentView>(`/api/incidents/${id}`), get<NextSteps>(`/api/incidents/${id}/next`)]);
    const photos = i.photos ?? [];
    return h(
      'div',
      { 'data-testid': 'incident', 'data-status': i.status },
      h('p', { 'data-field': 'description' }, i.description),
      h(
        'dl',
        { class: 'facts', 'data-testid': 'incident-facts' },
        row(t('patrol.status'), h('span', { 'data-field': 'status', class: i.overdue ? 'error' : '' }, `${statusName(i.status)}${i.overdue ? ` · ${t('patrol.overdue')}` : ''}`)),
        row(t('ui.grid'), h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(i.grid) }, i.grid)),
        row(t('patrol.reported'), `${when(i.reported_at)} · ${i.reported_by}`),
        row(t('patrol.assignee'), i.assignee ? i.assignee.name : '—'),
        i.due_at ? row(t('patrol.due'), `${when(i.due_at)} · ${timeLeft(i)}`) : [],
      ),
      photos.length
        ? h(
            'div',
            { class: 'incident-photos', 'data-testid': 'incident-photos' },
            photos.map((p) => h('a', { href: `/api/incidents/${i.id}/photos/${p.id}`, target: '_blank', rel: 'noopener' }, h('img', { src: `/api/incidents/${i.id}/photos/${p.id}`, alt: t('patrol.photo'), loading: 'lazy' }))),
          )
        : [],
      sel ? stepsBlock(app, sel, i, n) : [],
      i.history?.length
        ? [
            h('h3', {}, t('patrol.history')),
            h(
              'ul',
              { class: 'links small', 'data-testid': 'incident-history' },
              i.history.map((s) =>
                h('li', {}, `${when(s.at)} · ${statusName(s.to ?? s.status)}${s.by ? ` · ${s.by}` : ''}${s.assignee ? ` → ${s.assignee}` : ''}${s.note ? ` · ${s.note}` : ''}`),
              ),
            ),
          ]
        : [],
    );
  },
});
