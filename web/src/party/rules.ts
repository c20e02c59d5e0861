// The party rules the server checks (src/domain/party.rs): their titles in both languages,
// the colours of their markers, and how a finding's numbers and subject are shown (their
// words are `party.number_*` and `party.kind_*` in src/party/strings.ts).
import { lang, nameIn, t, tOr } from '../i18n';

/** Rules of `GET /api/party/findings` (src/domain/party.rs), in report order, with a short
 * title in both languages and the group that colours their markers. */
export const RULES = [
  { id: 'branch_few_full', group: 'org', zh: '网格党支部正式党员不足3名', en: 'Branch with fewer than 3 full members' },
  { id: 'branch_too_large', group: 'org', zh: '网格党支部党员超过50名', en: 'Branch with more than 50 members' },
  { id: 'branch_without_committee', group: 'org', zh: '党员7名以上的支部未设支委会', en: 'Branch of 7 or more without a committee' },
  { id: 'group_empty', group: 'org', zh: '党小组没有党员', en: 'Party group without members' },
  { id: 'grid_without_chief', group: 'staff', zh: '网格未配网格长', en: 'Grid without a chief' },
  { id: 'grid_without_staff', group: 'staff', zh: '网格未配网格员', en: 'Grid without grid members' },
  { id: 'chief_not_qualified', group: 'staff', zh: '网格长不是社区“两委”党员成员', en: 'Chief not a party member of the two committees' },
  { id: 'compound_without_org', group: 'functional', zh: '居民小区应建未建功能党组织', en: 'Compound lacking a functional organisation' },
  { id: 'building_without_org', group: 'functional', zh: '商务楼宇应建未建功能党组织', en: 'Commercial building lacking a functional organisation' },
  { id: 'association_without_org', group: 'functional', zh: '服务协会应建未建功能党组织', en: 'Association lacking a functional organisation' },
  { id: 'new_compound_without_org', group: 'functional', zh: '入住率达50%的新建小区未建党组织', en: 'New compound at 50% occupancy without an organisation' },
  { id: 'unit_without_project', group: 'dual', zh: '“双报到”单位未认领志愿服务项目', en: 'Registered unit without a volunteer project' },
  { id: 'member_without_post', group: 'dual', zh: '“双报到”党员未认领志愿服务岗位', en: 'Registered member without a volunteer post' },
  { id: 'community_few_welfare_orgs', group: 'community', zh: '社区公益性组织不足5个', en: 'Community with fewer than 5 public-welfare organisations' },
] as const;

/** Marker colours by rule group. */
export const GROUP_COLOURS: Record<string, string> = {
  org: '#c62828',
  staff: '#ef6c00',
  functional: '#6a1b9a',
  dual: '#1565c0',
  community: '#00796b',
};

/** A rule's short title (the server's own title, or the rule code, for an unknown rule). */
export function ruleTitle(id: unknown, serverTitle?: unknown): string {
  return nameIn(RULES, id, typeof serverTitle === 'string' ? serverTitle : String(id));
}

/** The colour of a rule's markers. */
export function ruleColour(id: unknown): string {
  const r = RULES.find((x) => x.id === id);
  return GROUP_COLOURS[r?.group ?? 'community'] ?? '#455a64';
}

/** The label of one of a finding's numbers. */
export function numberLabel(key: string): string {
  return tOr(`party.number_${key}`, key);
}

/** One of a finding's numbers, formatted (rates as percentages, booleans as yes / no). */
export function numberValue(key: string, v: unknown): string {
  if (typeof v === 'boolean') return v ? t('party.yes') : t('party.no');
  if (typeof v === 'number' && (key === 'occupancy_rate' || key === 'threshold') && v <= 1) return `${Math.round(v * 100)}%`;
  if (typeof v === 'number' && (key === 'year' || key === 'built_year')) return String(v);
  if (typeof v === 'number') return v.toLocaleString(lang());
  if (v === null || v === undefined) return '—';
  return String(v);
}

/** A property that MapLibre may hand back as JSON text (objects and arrays of features
 * picked on the map) or as the value itself (features of the downloaded data). */
export function parsed<T>(v: unknown): T | null {
  if (typeof v === 'string') {
    try {
      return JSON.parse(v) as T;
    } catch {
      return null;
    }
  }
  return (v ?? null) as T | null;
}

/** The subject kind's name. */
export function kindName(kind: unknown): string {
  return tOr(`party.kind_${String(kind)}`, String(kind));
}
