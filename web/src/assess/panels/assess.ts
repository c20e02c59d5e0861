// The assessment view (tool panel 考): a year's grade, warnings, scorecard and rank, pledges
// and 双报到 circular of each community the account reads (GET /api/assess/{year} and
// /scorecard), the year's XLSX and a printable page per community; for administrators the
// entry forms of the ratings, a pledge and a unit's rating.
import { get, request } from '../../api';
import { num, t, yearNow, type Key } from '../../i18n';
import { h } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';

interface Community {
  code: string;
  name: string;
  score: number | null;
  grade_name: string | null;
  ratings: { layer: string; layer_name: string; score: number; raters: number }[];
  warnings: { reason: string; message: string }[];
  pledges: { tally: { pledges: number; annual: number[] } };
  units: { code: string; name: string; standing_name: string; score: number | null; completed: number }[];
  talk: { code: string; name: string; reasons: { message: string }[] }[];
}

interface Place {
  code: string;
  rank: number | null;
  of: number;
  total: number | null;
  indicators: { indicator: string; name: string; weight: number; value: number | null; score: number | null }[];
}

const LAYERS = ['members', 'residents', 'street'] as const;
const KINDS = ['term', 'annual', 'resignation', 'integrity'] as const;
const MET = ['', 'met', 'partly', 'not_met'] as const;

let year = String(yearNow() - 1);

function fmt(n: number | null): string {
  return n === null ? '—' : num(n, 2);
}

/** Sends a write and reports the answer; `done` draws the view again. */
async function save(app: AppApi, path: string, body: unknown, done: () => void): Promise<void> {
  try {
    await request(path, { method: 'PUT', body });
    app.toast(t('assess.saved'));
    done();
  } catch (e) {
    app.toast(e instanceof Error ? e.message : String(e), 'error');
  }
}

function input(attrs: Record<string, string | number | boolean>): HTMLInputElement {
  return h('input', attrs);
}

/** The entry forms of one community (administrators). */
function forms(app: AppApi, c: Community, done: () => void): HTMLElement {
  const base = `/api/assess/${year}`;
  const scores = LAYERS.map((l) => {
    const r = c.ratings.find((x) => x.layer === l);
    return {
      layer: l,
      score: input({ type: 'number', min: 0, max: 100, step: '0.1', value: r ? r.score : '', 'data-testid': `rating-${l}`, 'aria-label': t(`assess.layer_${l}` as Key) }),
      raters: input({ type: 'number', min: 1, step: 1, value: r ? r.raters : 10, 'data-testid': `raters-${l}`, 'aria-label': t('assess.raters') }),
    };
  });
  const ratings = h(
    'form',
    { class: 'assess-form', 'data-testid': 'ratings-form' },
    scores.map((x) => h('label', { class: 'option' }, `${t(`assess.layer_${x.layer}` as Key)} `, x.score, ` ${t('assess.raters')} `, x.raters)),
    h('button', { type: 'submit' }, t('assess.save_ratings')),
  );
  ratings.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      ratings: scores.filter((x) => x.score.value !== '').map((x) => ({ layer: x.layer, score: Number(x.score.value), raters: Number(x.raters.value) })),
    };
    void save(app, `${base}/ratings/${encodeURIComponent(c.code)}`, body, done);
  });
  const person = input({ type: 'text', 'data-testid': 'pledge-person', 'aria-label': t('assess.person_code') });
  const kind = h('select', { 'data-testid': 'pledge-kind' }, KINDS.map((k) => h('option', { value: k }, t(`assess.kind_${k}` as Key))));
  const target = input({ type: 'text', 'data-testid': 'pledge-target', 'aria-label': t('assess.target') });
  const met = (id: string) => h('select', { 'data-testid': id }, MET.map((m) => h('option', { value: m }, t(`assess.met_${m}` as Key))));
  const annual = met('pledge-annual');
  const term = met('pledge-term');
  const pledge = h(
    'form',
    { class: 'assess-form', 'data-testid': 'pledge-form' },
    h('label', { class: 'option' }, `${t('assess.person_code')} `, person),
    h('label', { class: 'option' }, `${t('assess.pledge_kind')} `, kind),
    h('label', { class: 'option' }, `${t('assess.target')} `, target),
    h('label', { class: 'option' }, `${t('assess.annual')} `, annual),
    h('label', { class: 'option' }, `${t('assess.term')} `, term),
    h('button', { type: 'submit' }, t('assess.save_pledge')),
  );
  pledge.addEventListener('submit', (e) => {
    e.preventDefault();
    const p: Record<string, string> = { kind: kind.value, target: target.value };
    if (annual.value) p.annual = annual.value;
    if (term.value) p.term = term.value;
    void save(app, `${base}/pledges/${encodeURIComponent(person.value.trim())}`, { community_code: c.code, pledges: [p] }, done);
  });
  const unit = input({ type: 'text', 'data-testid': 'unit-code', 'aria-label': t('assess.unit_code') });
  const unitScore = input({ type: 'number', min: 0, max: 100, step: '0.1', 'data-testid': 'unit-score', 'aria-label': t('assess.unit_score') });
  const units = h(
    'form',
    { class: 'assess-form', 'data-testid': 'unit-form' },
    h('label', { class: 'option' }, `${t('assess.unit_code')} `, unit),
    h('label', { class: 'option' }, `${t('assess.unit_score')} `, unitScore),
    h('button', { type: 'submit' }, t('assess.save_unit')),
  );
  units.addEventListener('submit', (e) => {
    e.preventDefault();
    void save(app, `${base}/units/${encodeURIComponent(unit.value.trim())}`, { score: Number(unitScore.value) }, done);
  });
  return h('details', { class: 'assess-entry' }, h('summary', {}, t('assess.enter')), ratings, pledge, units);
}

/** One community: grade, rank, warnings, scorecard, pledges, circular, links. */
function communityPart(app: AppApi, c: Community, p: Place | undefined, done: () => void): HTMLElement {
  const tally = c.pledges.tally;
  return h(
    'section',
    { class: 'assess-community', 'data-community': c.code },
    h('h3', {}, c.name),
    h(
      'dl',
      {},
      h('dt', {}, t('assess.grade')),
      h('dd', { 'data-testid': 'assess-grade' }, c.grade_name ?? t('assess.no_grade')),
      h('dt', {}, t('assess.score')),
      h('dd', {}, fmt(c.score)),
      h('dt', {}, t('assess.rank')),
      h('dd', { 'data-testid': 'assess-rank' }, p?.rank ? t('assess.rank_of', { r: p.rank, n: p.of }) : t('assess.unranked')),
    ),
    h('h4', {}, t('assess.warnings')),
    c.warnings.length
      ? h('ul', { 'data-testid': 'assess-warnings' }, c.warnings.map((w) => h('li', { 'data-reason': w.reason }, w.message)))
      : h('p', { class: 'muted' }, t('assess.no_warnings')),
    p
      ? h(
          'table',
          { class: 'assess-card' },
          h('tr', {}, h('th', {}, t('assess.indicator')), h('th', {}, t('assess.weight')), h('th', {}, t('assess.value')), h('th', {}, t('assess.points'))),
          p.indicators.map((l) => h('tr', { 'data-indicator': l.indicator }, h('td', {}, l.name), h('td', {}, num(l.weight)), h('td', {}, fmt(l.value)), h('td', {}, fmt(l.score)))),
          h('tr', {}, h('th', {}, t('assess.total')), h('td', {}), h('td', {}), h('th', { 'data-testid': 'assess-total' }, fmt(p.total))),
        )
      : null,
    h('h4', {}, t('assess.pledges')),
    h('p', { class: 'small' }, t('assess.pledges_tally', { n: tally.pledges, m: tally.annual[0] ?? 0, p: tally.annual[1] ?? 0, x: tally.annual[2] ?? 0, u: tally.annual[3] ?? 0 })),
    h('h4', {}, t('assess.circular')),
    c.units.length
      ? h('ul', { class: 'small' }, c.units.map((u) => h('li', { 'data-unit': u.code }, `${u.name} · ${u.standing_name} · ${fmt(u.score)}`)))
      : h('p', { class: 'muted' }, t('assess.no_units')),
    c.talk.length ? h('h4', {}, t('assess.talk')) : null,
    c.talk.length ? h('ul', { class: 'small', 'data-testid': 'assess-talk' }, c.talk.map((u) => h('li', {}, `${u.name}: ${u.reasons.map((r) => r.message).join('；')}`))) : null,
    h('p', {}, h('a', { href: `/api/assess/${year}/print/${encodeURIComponent(c.code)}`, target: '_blank', rel: 'noopener', 'data-testid': 'assess-print' }, t('assess.print'))),
    app.can('assessment', 'write') ? forms(app, c, done) : null,
  );
}

function body(app: AppApi, refresh: () => void): HTMLElement {
  const years = [0, 1, 2, 3].map((k) => String(yearNow() - k));
  const pick = h('select', { 'data-testid': 'assess-year' }, years.map((y) => h('option', { value: y, selected: y === year }, y)));
  pick.addEventListener('change', () => {
    year = pick.value;
    refresh();
  });
  const rest = h('div', {}, h('p', { class: 'small' }, t('ui.loading')));
  Promise.all([get<{ communities: Community[] }>(`/api/assess/${year}`), get<{ places: Place[] }>(`/api/assess/${year}/scorecard`)])
    .then(([a, s]) => {
      const byCode = new Map(s.places.map((p) => [p.code, p]));
      rest.replaceChildren(
        ...(a.communities.length ? a.communities.map((c) => communityPart(app, c, byCode.get(c.code), refresh)) : [h('p', { class: 'muted' }, t('assess.none'))]),
      );
    })
    .catch((e: unknown) => rest.replaceChildren(h('p', { class: 'error' }, t('ui.error', { msg: e instanceof Error ? e.message : String(e) }))));
  return h(
    'div',
    { 'data-testid': 'assess-view' },
    h('label', { class: 'option' }, `${t('assess.year')} `, pick),
    h('p', {}, h('a', { href: `/api/assess/${year}/export?format=xlsx`, download: `assess_${year}.xlsx`, 'data-testid': 'assess-xlsx' }, t('assess.download'))),
    rest,
  );
}

export default definePanel({
  id: 'assess',
  tool: { title: 'assess.view', icon: '考' },
  requires: ['assessment', 'read'],
  title: () => t('assess.view'),
  render: (app) => {
    const box = h('div', {});
    const refresh = () => box.replaceChildren(body(app, refresh));
    box.replaceChildren(body(app, refresh));
    return box;
  },
});
