// My incidents in the patrol bar: the list (category, status, grid, reported when, time left
// or overdue, description, photo), each with the step the assignee may take now ("start",
// "resolve"), what is waiting to be sent, and a step the server refused said plainly; and
// the resolve form (a note and photos from the phone's camera). The data and the queueing
// are src/patrol/mine.ts.

import { t, when } from '../i18n';
import { timeLeft } from '../incidents/open';
import { h } from '../ui/dom';
import { categoryName, statusName } from './categories';
import type { MyIncident, MyIncidents, Seen } from './mine';
import type { Label } from './outbox';
import { photoPicker, type PickedPhoto } from './photo';
import './mine.css';

/** Photos one resolution may carry. */
const PHOTOS_MAX = 3;

/** What the view needs of patrol mode. */
export interface MineHost {
  toast(msg: string, kind?: 'error'): void;
  /** Draws the bar again (the view's state changed). */
  redraw(): void;
  /** Leaves the view for the patrol's main view. */
  back(): void;
  /** Moves the map to a place. */
  show(lon: number, lat: number): void;
}

function label(l: Label): string {
  return t(`patrol.${l.key}`, l.vars ?? {});
}

/** The list of my incidents and the resolve form, drawn into the patrol bar. */
export class MineView {
  /** The incident whose resolve form is open, and the form (kept while it is open, so that
   * the bar drawn again for other reasons keeps what was typed). */
  private resolving: string | null = null;
  private form: HTMLElement | null = null;
  private photos: PickedPhoto[] = [];
  /** Object URLs of the kept thumbnails, made once per blob. */
  private readonly urls = new WeakMap<Blob, string>();

  constructor(
    private readonly host: MineHost,
    readonly mine: MyIncidents,
  ) {}

  /** The button of the status line: the count of my incidents with work left. */
  button(onclick: () => void): HTMLElement {
    const n = this.mine.count();
    return h('button', { type: 'button', class: `mine-badge${n ? ' has-mine' : ''}`, 'data-testid': 'mine-badge', 'data-count': n, onclick }, t('patrol.mine_count', { n }));
  }

  /** Whether the resolve form is open (data arriving must not draw over what is typed). */
  get editing(): boolean {
    return this.resolving !== null;
  }

  /** Opens the list (downloading it again when online). */
  open(): void {
    this.dropPhotos();
    this.resolving = null;
    this.form = null;
    void this.mine.load();
  }

  render(): HTMLElement {
    const r = this.resolving ? this.mine.rows.find((x) => x.id === this.resolving) : undefined;
    if (!r) return this.list();
    if (this.form?.dataset.id !== r.id) this.form = this.resolveForm(r);
    return this.form;
  }

  private thumb(b: Blob): string {
    let u = this.urls.get(b);
    if (!u) {
      u = URL.createObjectURL(b);
      this.urls.set(b, u);
    }
    return u;
  }

  private list(): HTMLElement {
    const m = this.mine;
    const shown = m.rows.map((r) => ({ r, s: m.seen(r) })).filter(({ s }) => s.status !== 'resolved' || s.pending.length || s.failed.length);
    const source = m.stale ? h('p', { class: 'small muted', 'data-testid': 'mine-as-of' }, m.at !== null ? t('patrol.mine_as_of', { when: when(m.at) }) : t('patrol.mine_never')) : null;
    return h(
      'div',
      { class: 'patrol-form mine', 'data-testid': 'mine-list', 'data-stale': m.stale ? '1' : '0' },
      h('h3', {}, t('patrol.mine_title')),
      source,
      shown.length ? h('ul', { class: 'mine-list' }, shown.map(({ r, s }) => this.row(r, s))) : h('p', { class: 'small muted' }, t('patrol.mine_none')),
      h('div', { class: 'buttons' }, h('button', { type: 'button', 'data-testid': 'mine-back', onclick: () => this.host.back() }, t('patrol.back'))),
    );
  }

  private row(r: MyIncident, s: Seen): HTMLElement {
    const refused = s.failed[0];
    const conflict = refused?.httpStatus === 409;
    const step =
      s.failed.length || s.status === 'resolved'
        ? null
        : s.status === 'assigned'
          ? h('button', { type: 'button', class: 'primary', 'data-testid': 'mine-start', onclick: () => void this.act(() => this.mine.start(r), 'patrol.mine_started') }, t('patrol.mine_start'))
          : s.status === 'in_progress'
            ? h('button', { type: 'button', class: 'primary', 'data-testid': 'mine-resolve', onclick: () => { this.resolving = r.id; this.host.redraw(); } }, t('patrol.mine_resolve'))
            : null;
    // A refused step: the row is as the phone last saw it, so its status and time are not
    // shown as if current.
    const facts = refused
      ? null
      : [
          ` · ${statusName(s.status)} · ${r.grid}`,
          h('div', { class: 'small muted' }, t('patrol.mine_reported', { when: when(r.reported_at) })),
          h('div', { class: r.overdue ? 'error small' : 'small', 'data-field': 'time-left' }, timeLeft(r)),
        ];
    const where = typeof r.lon === 'number' && typeof r.lat === 'number' ? ([r.lon, r.lat] as const) : null;
    return h(
      'li',
      { class: `mine-row${r.overdue ? ' overdue' : ''}`, 'data-testid': 'mine-row', 'data-id': r.id, 'data-status': s.status, 'data-pending': s.pending.length, 'data-failed': s.failed.length },
      r.thumb ? h('img', { class: 'thumb', src: this.thumb(r.thumb), alt: t('patrol.photo') }) : h('span', { class: 'thumb none' }),
      h(
        'div',
        { class: 'mine-text' },
        h('strong', {}, categoryName(r.category)),
        facts,
        h('p', { class: 'mine-description', 'data-field': 'description' }, r.description),
        s.pending.length
          ? h('div', { class: 'small mine-waiting', 'data-testid': 'mine-waiting' }, `○ ${t('patrol.mine_waiting')}: ${s.pending.map((i) => label(i.label)).join('；')}`)
          : null,
        refused
          ? h(
              'div',
              { class: 'error small', 'data-testid': 'mine-refused', 'data-status': refused.httpStatus ?? 0 },
              conflict ? t('patrol.mine_conflict') : t('patrol.mine_refused', { msg: refused.error ?? '' }),
              ' ',
              h('button', { type: 'button', 'data-testid': 'mine-dismiss', onclick: () => void this.mine.dismiss(r) }, t('patrol.mine_dismiss')),
            )
          : null,
        h(
          'div',
          { class: 'buttons' },
          step,
          where ? h('button', { type: 'button', class: 'link', onclick: () => this.host.show(where[0], where[1]) }, t('patrol.mine_on_map')) : null,
        ),
      ),
    );
  }

  /** Runs a queueing action and says so (or why it failed); true when it was queued. */
  private async act(f: () => Promise<void>, done: 'patrol.mine_started' | 'patrol.mine_resolved'): Promise<boolean> {
    let ok = false;
    try {
      await f();
      this.host.toast(navigator.onLine ? t(done) : t('patrol.mine_when_online', { what: t(done) }));
      ok = true;
    } catch (e) {
      this.host.toast(t('ui.error', { msg: e instanceof Error ? e.message : String(e) }), 'error');
    }
    this.host.redraw();
    return ok;
  }

  private dropPhotos(): void {
    this.photos.forEach((p) => URL.revokeObjectURL(p.url));
    this.photos = [];
  }

  private resolveForm(r: MyIncident): HTMLElement {
    const note = h('textarea', { rows: 3, maxlength: 2000, 'data-testid': 'mine-note', placeholder: t('patrol.mine_note') });
    // The phone's camera (the back one); a desktop browser offers a file instead.
    const { file, thumbs } = photoPicker({
      photos: () => this.photos,
      max: PHOTOS_MAX,
      accept: 'image/*',
      testid: 'mine-photo',
      thumbsTestid: 'mine-thumbs',
      toast: (msg) => this.host.toast(msg, 'error'),
    });
    const error = h('p', { class: 'error small' });
    note.addEventListener('input', () => (error.textContent = ''));
    const close = () => {
      this.dropPhotos();
      this.resolving = null;
      this.form = null;
      this.host.redraw();
    };
    const submit = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'mine-resolve-submit',
        onclick: async () => {
          const text = note.value.trim();
          if (!text) {
            error.textContent = t('patrol.mine_note_needed');
            note.focus();
            return;
          }
          submit.disabled = true;
          const blobs = this.photos.map((p) => p.blob);
          if (await this.act(() => this.mine.resolve(r, text, blobs), 'patrol.mine_resolved')) close();
          else submit.disabled = false;
        },
      },
      t('patrol.mine_resolve'),
    );
    return h(
      'div',
      { class: 'patrol-form', 'data-testid': 'mine-resolve-form', 'data-id': r.id },
      h('h3', {}, t('patrol.mine_resolve_title', { what: categoryName(r.category) })),
      h('p', { class: 'small' }, r.description),
      note,
      h('label', { class: 'small file' }, `${t('patrol.mine_photo')} `, file),
      thumbs,
      error,
      h('div', { class: 'buttons' }, submit, h('button', { type: 'button', onclick: close }, t('ui.cancel'))),
    );
  }
}
