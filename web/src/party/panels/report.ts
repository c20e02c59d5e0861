// The party view's tool panel (header button 党): switches the party cells and findings
// layers on, picks the year of the 双报到 rules, and sums up the year's findings
// (GET /api/party/report) by rule and by community, with every finding one click from its
// marker.
import { getOnce, type Feat } from '../../api';
import { num, t, yearNow } from '../../i18n';
import { h } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';
import { CELLS, FINDINGS, dot, findingLinks, focusParty, loadedFindings, partyFocus } from '../findings';
import { ruleColour, ruleTitle } from '../rules';

interface Report {
  year: number;
  by_rule: { rule: string; title: string; count: number }[];
  communities: {
    code: string;
    name: string;
    members: number;
    full_members: number;
    organisations: { grid_branches: number; grid_groups: number; functional: number };
    welfare_orgs: number | null;
    findings: Record<string, number>;
  }[];
}

/** Findings listed at once; the rest behind a fold per rule. */
const FIRST = 5;

/** The reports asked since the panel was opened, by URL: the panel is drawn again when the
 * year's markers arrive, and a city's report (600 communities) need not be asked twice. */
const reports = new Map<string, Promise<Report>>();

function report(url: string): Promise<Report> {
  return getOnce(reports, url);
}

function yearOf(app: AppApi): string {
  return app.layers.states.get(FINDINGS)?.options.year ?? String(yearNow());
}

/** The panel: the switch and the year at once (so that the layers' downloads start without
 * waiting for the report), the report below once it has arrived. */
function body(app: AppApi, refresh: () => void): HTMLElement {
  const year = yearOf(app);
  const cells = app.layers.states.get(CELLS);
  const findings = app.layers.states.get(FINDINGS);
  const on = !!cells?.visible && !!findings?.visible;
  const toggle = h('input', { type: 'checkbox', checked: on, 'data-testid': 'party-toggle' });
  toggle.addEventListener('change', () => {
    app.layers.setVisible(CELLS, toggle.checked);
    app.layers.setVisible(FINDINGS, toggle.checked);
  });
  const years = findings?.def.options?.find((o) => o.key === 'year')?.choices ?? [];
  const pick = h(
    'select',
    { 'data-testid': 'party-year' },
    years.map((c) => h('option', { value: c.value, selected: c.value === year }, 'text' in c ? c.text : t(c.label))),
  );
  pick.addEventListener('change', () => {
    app.layers.setOption(FINDINGS, 'year', pick.value);
    refresh();
  });
  const rest = h('div', {}, h('p', { class: 'small' }, t('ui.loading')));
  reportPart(app, refresh, year)
    .then((n) => rest.replaceChildren(...n.filter((e): e is HTMLElement => e !== null)))
    .catch((e: unknown) => rest.replaceChildren(h('p', { class: 'error' }, t('ui.error', { msg: e instanceof Error ? e.message : String(e) }))));
  return h('div', { 'data-testid': 'party-view' }, h('label', { class: 'check' }, toggle, ` ${t('party.show_view')}`), h('label', { class: 'option' }, `${t('party.year')} `, pick), rest);
}

/** The year's report: counts by rule (each with its findings once the markers are in) and
 * the communities. */
async function reportPart(app: AppApi, refresh: () => void, year: string): Promise<(HTMLElement | null)[]> {
  const focus = partyFocus();
  const rep = await report(`/api/party/report?year=${encodeURIComponent(year)}${focus ? `&community=${encodeURIComponent(focus)}` : ''}`);
  const total = rep.by_rule.reduce((s, r) => s + r.count, 0);
  // The markers of the year, once the layer has them (grouped by rule for the lists).
  const loaded = (app.layers.data(FINDINGS) as { year?: number } | undefined)?.year === rep.year;
  if (!loaded) {
    // Lists follow once the layer has the year's markers.
    const off = app.layers.onChange(() => {
      if ((app.layers.data(FINDINGS) as { year?: number } | undefined)?.year === rep.year) {
        off();
        refresh();
      }
    });
  }
  const byRule = new Map<string, Feat[]>();
  if (loaded) for (const f of loadedFindings(app)) byRule.set(String(f.properties.rule), [...(byRule.get(String(f.properties.rule)) ?? []), f]);
  return [
    h('h3', {}, `${t('party.report')} · ${rep.year}`),
    total === 0
      ? h('p', { class: 'muted' }, t('party.no_findings'))
      : h(
          'ul',
          { class: 'rule-counts', 'data-testid': 'party-rules' },
          rep.by_rule
            .filter((r) => r.count > 0)
            .map((r) => {
              const list = byRule.get(r.rule) ?? [];
              const head = h('summary', {}, dot(ruleColour(r.rule)), ` ${ruleTitle(r.rule, r.title)} `, h('strong', { 'data-count': r.count }, num(r.count)));
              return h(
                'li',
                { 'data-rule': r.rule },
                list.length
                  ? h('details', {}, head, findingLinks(app, list.slice(0, FIRST)), list.length > FIRST ? h('p', { class: 'muted small' }, t('party.all_findings', { n: list.length })) : null)
                  : head,
              );
            }),
        ),
    focus
      ? h('p', { class: 'small' }, h('button', { type: 'button', class: 'link', 'data-testid': 'party-zone', onclick: () => { focusParty(app, null); refresh(); } }, `← ${t('ui.show_all')}`))
      : null,
    h('h3', {}, t('party.communities')),
    h(
      'ul',
      { class: 'links' },
      rep.communities.map((c) =>
        h(
          'li',
          {},
          h('button', { type: 'button', class: 'link', 'data-community': c.code, onclick: () => { focusParty(app, c.code); refresh(); } }, h('strong', {}, c.name)),
          h('br', {}),
          h('span', { class: 'small' }, t('party.members_full', { m: num(c.members), f: num(c.full_members) })),
          h('br', {}),
          h('span', { class: 'small muted' }, t('party.organisations', { b: num(c.organisations.grid_branches), g: num(c.organisations.grid_groups), f: num(c.organisations.functional) })),
          c.welfare_orgs !== null ? h('span', { class: 'small muted' }, ` · ${t('party.welfare_orgs', { n: num(c.welfare_orgs) })}`) : null,
        ),
      ),
    ),
  ];
}

export default definePanel({
  id: 'party',
  tool: { title: 'party.view', icon: '党' },
  requires: ['party', 'read'],
  title: () => t('party.view'),
  render: (app) => {
    reports.clear();
    const box = h('div', {});
    const refresh = () => box.replaceChildren(body(app, refresh));
    box.replaceChildren(body(app, refresh));
    return box;
  },
});
