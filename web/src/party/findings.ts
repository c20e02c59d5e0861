// Rule findings as the panels show them: found again in the findings layer's download (which
// keeps nested properties that MapLibre hands back as JSON text), explained with their
// numbers, and listed with links to their markers.

import { get, type Fc, type Feat, type Props } from '../api';
import { h, row } from '../ui/dom';
import type { AppApi } from '../ui/panels';
import { kindName, numberLabel, numberValue, parsed, ruleColour, ruleTitle } from './rules';
import { t } from '../i18n';

/** The findings layer's id. */
export const FINDINGS = 'party_findings';
/** The cells layer's id. */
export const CELLS = 'party';

/** A finding's properties, as `GET /api/party/findings?format=geojson` sends them. */
export interface FindingProps {
  rule: string;
  title: string;
  subject: { kind: string; code: string; name: string };
  community_code: string | null;
  community_name: string | null;
  grid_code: string | null;
  numbers: Record<string, unknown>;
  person: string | null;
  message: string;
}

/** The community the party view is narrowed to: on a city's whole zone the server sums the
 * cells and findings per community, and a community's cells and findings follow once one is
 * chosen (null: the whole reach). */
let focus: string | null = null;

export function partyFocus(): string | null {
  return focus;
}

/** Narrows the party view to a community (or back to the whole reach) and reloads its
 * layers. */
export function focusParty(app: AppApi, code: string | null): void {
  if (code === focus) return;
  focus = code;
  void app.layers.reload([CELLS, FINDINGS]);
}

const inFocus = () => (focus ? `community=${encodeURIComponent(focus)}` : '');

/** The cells layer's data: `GET /api/party/cells` (of the community in focus); on a city's
 * zone the server answers with the communities' sums instead (`level` 0). */
export function partyCells(): Promise<Fc> {
  return get<Fc>(`/api/party/cells${focus ? `?${inFocus()}` : ''}`);
}

/** Findings drawn one by one at most; past it the zone's findings are drawn as one marker
 * per community with its count, until a community is chosen. */
export const FINDINGS_ON_MAP = 2000;

type FindingsPage = Fc & { year: number; count: number; next: string | null };

interface FindingsSums {
  year: number;
  count: number;
  communities: { code: string; name: string; count: number; point: [number, number] | null; by_rule: Record<string, number> }[];
}

/** The findings layer's data for a year: the findings (of the community in focus), or on a
 * city's zone one point per community (`rule` "community", `count`). */
export async function partyFindings(year: string): Promise<Fc> {
  const q = `year=${encodeURIComponent(year)}${focus ? `&${inFocus()}` : ''}`;
  const sums = focus ? null : await get<FindingsSums>(`/api/party/findings?limit=1&${q}`);
  if (!sums || sums.count <= FINDINGS_ON_MAP) return get<FindingsPage>(`/api/party/findings?format=geojson&limit=${FINDINGS_ON_MAP}&${q}`);
  const features: Feat[] = sums.communities
    .filter((c) => c.point)
    .map((c) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: c.point! },
      properties: { rule: 'community', kind: 'community', code: c.code, community_code: c.code, community_name: c.name, count: c.count, message: `${c.name}: ${c.count}` },
    }));
  return { type: 'FeatureCollection', features, year: sums.year, count: sums.count } as Fc;
}

/** The downloaded findings (empty until loaded). */
export function loadedFindings(app: AppApi): Feat[] {
  return app.layers.data(FINDINGS)?.features ?? [];
}

/** A finding's properties with nested values restored. */
export function findingProps(p: Props): FindingProps {
  return {
    rule: String(p.rule ?? ''),
    title: String(p.title ?? ''),
    subject: parsed<FindingProps['subject']>(p.subject) ?? { kind: '', code: '', name: '' },
    community_code: typeof p.community_code === 'string' ? p.community_code : null,
    community_name: typeof p.community_name === 'string' ? p.community_name : null,
    grid_code: typeof p.grid_code === 'string' ? p.grid_code : null,
    numbers: parsed<Record<string, unknown>>(p.numbers) ?? {},
    person: typeof p.person === 'string' && p.person !== 'null' ? p.person : null,
    message: String(p.message ?? ''),
  };
}

/** The downloaded feature of a picked finding (matched by its sentence), when loaded. */
export function findingFeature(app: AppApi, p: Props): Feat | undefined {
  return loadedFindings(app).find((f) => f.properties.message === p.message);
}

/** Other findings drawn at exactly the same point. */
export function findingsAt(app: AppApi, f: Feat): Feat[] {
  if (f.geometry?.type !== 'Point') return [];
  const [x, y] = f.geometry.coordinates;
  return loadedFindings(app).filter(
    (g) => g !== f && g.geometry?.type === 'Point' && g.geometry.coordinates[0] === x && g.geometry.coordinates[1] === y,
  );
}

/** Findings about a cell: its own (its grid) and, for a branch, those of its groups. */
export function findingsOfCell(app: AppApi, code: string, level: number): Feat[] {
  return loadedFindings(app).filter((f) => {
    const g = f.properties.grid_code;
    if (typeof g !== 'string') return false;
    return g === code || (level === 1 && g.startsWith(code) && g.length > code.length && f.properties.rule !== 'member_without_post');
  });
}

/** A coloured dot (a marker's colour). */
export function dot(colour: string): HTMLElement {
  const d = h('span', { class: 'dot' });
  d.style.background = colour;
  return d;
}

/** A finding's explanation: the sentence, which rule, about what, where, and the numbers. */
export function explain(app: AppApi, f: FindingProps): HTMLElement {
  const cell = f.grid_code ? app.layers.data(CELLS)?.features.find((c) => c.properties.code === f.grid_code) : undefined;
  const nums = Object.entries(f.numbers);
  return h(
    'div',
    { class: 'finding', 'data-rule': f.rule },
    h('p', { class: 'finding-message', 'data-testid': 'finding-message' }, f.message),
    h(
      'dl',
      { class: 'facts', 'data-testid': 'finding-facts' },
      row(t('party.rule'), h('span', { 'data-field': 'rule', 'data-rule': f.rule }, dot(ruleColour(f.rule)), ` ${ruleTitle(f.rule, f.title)}`)),
      row(t('party.subject'), `${kindName(f.subject.kind)} · ${f.subject.name}${f.subject.code && f.subject.code !== f.subject.name ? ` (${f.subject.code})` : ''}`),
      f.community_code ? row(t('party.community'), f.community_name ? `${f.community_name} (${f.community_code})` : f.community_code) : [],
      f.grid_code ? row(t('party.grid'), h('button', { type: 'button', class: 'link', onclick: () => void app.openGrid(f.grid_code!) }, f.grid_code)) : [],
      f.person ? row(t('party.person'), f.person) : [],
    ),
    nums.length
      ? [
          h('h3', {}, t('party.numbers')),
          h('dl', { class: 'facts', 'data-testid': 'finding-numbers' }, nums.flatMap(([k, v]) => row(numberLabel(k), h('span', { 'data-number': k }, numberValue(k, v))))),
        ]
      : [],
    cell
      ? h('p', {}, h('button', { type: 'button', 'data-testid': 'open-cell', onclick: () => app.open({ layer: CELLS, props: cell.properties, geometry: cell.geometry }, { fly: true }) }, t('party.open_cell')))
      : null,
  );
}

/** A list of findings, each opening its explanation (and moving the map to its marker). */
export function findingLinks(app: AppApi, list: Feat[], testid?: string): HTMLElement {
  return h(
    'ul',
    { class: 'finding-list', ...(testid ? { 'data-testid': testid } : {}) },
    list.map((f) =>
      h(
        'li',
        {},
        dot(ruleColour(f.properties.rule)),
        ' ',
        h(
          'button',
          { type: 'button', class: 'link', onclick: () => app.open({ layer: FINDINGS, props: f.properties, geometry: f.geometry }, { fly: true }) },
          ruleTitle(f.properties.rule, f.properties.title),
        ),
        h('br', {}),
        h('span', { class: 'small muted' }, String(f.properties.message ?? '')),
      ),
    ),
  );
}
