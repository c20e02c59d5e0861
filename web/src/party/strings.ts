// Words of the party view (cells, rule findings, the boundary-change preview) in both
// interface languages. Kept apart from src/i18n.ts, which holds the few keys the layer
// registry needs (layer titles and option labels). Data (names, the server's Chinese
// sentences) is never translated.

import { lang } from '../i18n';

const zh = {
  cell: '党组织',
  cell_kind: '类型',
  cell_findings: '发现的问题',
  branch: '网格党支部',
  group: '党小组',
  grid: '网格',
  org: '党组织',
  no_org: '未建立',
  members: '党员',
  full: '正式党员',
  probationary: '预备党员',
  committee: '支委会',
  committee_yes: '已设（{n} 名委员）',
  committee_no: '未设（{n} 名委员）',
  officers: '书记和委员',
  officers_counts: '（服务器只提供人数）',
  member_list: '党员名单（{n}）',
  chief: '网格长',
  grid_members: '网格员',
  grid_details: '网格详情',
  child_groups: '下设党小组',
  status: '规则检查',
  status_ok: '符合',
  status_failing: '不符合',
  ok_rules: '没有发现问题',
  findings_here: '此处的其他问题',
  finding: '问题',
  rule: '规则',
  subject: '对象',
  where: '位置',
  community: '社区',
  person: '人员',
  numbers: '依据数字',
  year: '年度',
  open_cell: '查看党组织',
  yes: '是',
  no: '否',
  people_n: '{n} 名',
  members_range: '{a}–{b} 名',
  members_below: '少于 {n} 名',
  members_from: '{n} 名以上',
  legend_ok: '符合规则',
  legend_failing: '有不符合的规则',
  // the tool panel
  show_view: '在地图上显示党组织网格和党建问题',
  report: '本年度检查结果',
  by_rule: '按规则',
  no_findings: '没有发现问题',
  all_findings: '全部问题（{n}）',
  communities: '社区',
  organisations: '党组织：支部 {b} · 小组 {g} · 功能 {f}',
  welfare_orgs: '公益性组织 {n} 个',
  members_full: '党员 {m} 名（正式 {f} 名）',
  // subject kinds
  kind_branch: '网格党支部',
  kind_group: '党小组',
  kind_grid: '网格',
  kind_compound: '小区',
  kind_building: '楼栋',
  kind_association: '社会组织',
  kind_unit: '报到单位',
  kind_member: '报到党员',
  kind_community: '社区',
  // the preview
  preview: '保存前预览',
  previewing: '正在计算调整后的党组织归属…',
  preview_summary: '{b} 栋楼栋改变所属网格 · {m} 名党员调整党组织 · {r} 条规则变化',
  preview_flows: '党员调整',
  preview_flow: '{from} → {to}：{m} 名党员（正式 {f} 名），{b} 栋楼',
  preview_cells: '党组织人数变化',
  preview_rules: '规则变化',
  preview_buildings: '改变网格的楼栋（{n}）',
  preview_building: '{name}：{from} → {to}',
  preview_no_rules: '没有规则开始或停止不符合',
  preview_nothing: '没有楼栋改变所属网格，党员归属不变',
  preview_refused: '预览显示：这次修改保存时会被拒绝。',
  preview_forbidden: '你无权保存这次修改。',
  preview_failed: '无法预览（{msg}），仍可直接保存。',
  change_starts: '开始不符合',
  change_stops: '不再不符合',
  change_changes: '数字变化',
  confirm_save: '确认保存',
  back_to_edit: '返回修改',
  legend_move: '改变网格的楼栋（数字为党员人数）',
  legend_grid: '调整后的边界',
} as const;

export type PKey = keyof typeof zh;

const en: Record<PKey, string> = {
  cell: 'Party cell',
  cell_kind: 'Kind',
  cell_findings: 'Findings',
  branch: 'Grid party branch',
  group: 'Party group',
  grid: 'Grid',
  org: 'Organisation',
  no_org: 'not set up',
  members: 'Party members',
  full: 'Full members',
  probationary: 'Probationary',
  committee: 'Branch committee',
  committee_yes: 'yes ({n} seats)',
  committee_no: 'no ({n} seats)',
  officers: 'Secretary and committee',
  officers_counts: '(the server sends numbers only)',
  member_list: 'Members ({n})',
  chief: 'Grid chief',
  grid_members: 'Grid members',
  grid_details: 'Grid details',
  child_groups: 'Party groups',
  status: 'Rule checks',
  status_ok: 'pass',
  status_failing: 'fail',
  ok_rules: 'No finding',
  findings_here: 'Other findings here',
  finding: 'Finding',
  rule: 'Rule',
  subject: 'Subject',
  where: 'Where',
  community: 'Community',
  person: 'Person',
  numbers: 'The numbers',
  year: 'Year',
  open_cell: 'Open the party cell',
  yes: 'yes',
  no: 'no',
  people_n: '{n}',
  members_range: '{a}–{b}',
  members_below: 'fewer than {n}',
  members_from: '{n} or more',
  legend_ok: 'every rule passes',
  legend_failing: 'a rule fails',
  show_view: 'Show party cells and findings on the map',
  report: 'Findings of the year',
  by_rule: 'By rule',
  no_findings: 'No finding',
  all_findings: 'All findings ({n})',
  communities: 'Communities',
  organisations: 'Organisations: branches {b} · groups {g} · functional {f}',
  welfare_orgs: '{n} public-welfare organisations',
  members_full: '{m} members ({f} full)',
  kind_branch: 'Grid branch',
  kind_group: 'Party group',
  kind_grid: 'Grid',
  kind_compound: 'Compound',
  kind_building: 'Building',
  kind_association: 'Association',
  kind_unit: 'Registered unit',
  kind_member: 'Registered member',
  kind_community: 'Community',
  preview: 'Preview before saving',
  previewing: 'Working out the new party cells…',
  preview_summary: '{b} building(s) change grid · {m} party member(s) change cell · {r} rule change(s)',
  preview_flows: 'Members moving',
  preview_flow: '{from} → {to}: {m} member(s) ({f} full), {b} building(s)',
  preview_cells: 'Cell sizes',
  preview_rules: 'Rule changes',
  preview_buildings: 'Buildings changing grid ({n})',
  preview_building: '{name}: {from} → {to}',
  preview_no_rules: 'No rule starts or stops failing',
  preview_nothing: 'No building changes grid; every member stays in the same cell',
  preview_refused: 'The preview says this change would be refused on saving.',
  preview_forbidden: 'You may not save this change.',
  preview_failed: 'No preview ({msg}); you can still save.',
  change_starts: 'starts failing',
  change_stops: 'stops failing',
  change_changes: 'numbers change',
  confirm_save: 'Confirm and save',
  back_to_edit: 'Back to editing',
  legend_move: 'Buildings changing grid (number: party members)',
  legend_grid: 'New boundary',
};

/** A party-view text in the interface language, with `{name}` placeholders filled. */
export function pt(key: PKey, vars: Record<string, string | number> = {}): string {
  const s: string = lang() === 'en' ? en[key] : zh[key];
  return s.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

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
  const r = RULES.find((x) => x.id === id);
  if (r) return lang() === 'en' ? r.en : r.zh;
  return typeof serverTitle === 'string' ? serverTitle : String(id);
}

/** The colour of a rule's markers. */
export function ruleColour(id: unknown): string {
  const r = RULES.find((x) => x.id === id);
  return GROUP_COLOURS[r?.group ?? 'community'] ?? '#455a64';
}

const NUMBERS: Record<string, [string, string]> = {
  members: ['党员', 'members'],
  full_members: ['正式党员', 'full members'],
  minimum: ['最低要求', 'minimum'],
  maximum: ['上限', 'maximum'],
  minimum_full_members: ['应建所需正式党员', 'full members required'],
  minimum_residents: ['应建所需居民', 'residents required'],
  residents: ['居民', 'residents'],
  committee_seats: ['现有委员', 'committee seats'],
  members_needing_committee: ['应设支委会的党员人数', 'members requiring a committee'],
  minimum_seats: ['支委会最少委员', 'minimum seats'],
  officers: ['书记和委员', 'officers'],
  chiefs: ['网格长', 'chiefs'],
  grid_members: ['网格员', 'grid members'],
  linked_to_resident: ['关联居民档案', 'linked to a resident'],
  party_member: ['党员', 'party member'],
  two_committees: ['社区“两委”成员', 'on the two committees'],
  occupancy_rate: ['入住率', 'occupancy'],
  built_year: ['建成年份', 'built'],
  threshold: ['入住率门槛', 'occupancy threshold'],
  employees: ['在职人员', 'employees'],
  projects: ['志愿服务项目', 'volunteer projects'],
  posts: ['志愿服务岗位', 'volunteer posts'],
  welfare_orgs: ['公益性组织', 'public-welfare organisations'],
  members_without_post: ['未认领岗位的报到党员', 'members without a post'],
  year: ['年度', 'year'],
};

/** The label of one of a finding's numbers. */
export function numberLabel(key: string): string {
  const l = NUMBERS[key];
  return l ? (lang() === 'en' ? l[1] : l[0]) : key;
}

/** One of a finding's numbers, formatted (rates as percentages, booleans as yes / no). */
export function numberValue(key: string, v: unknown): string {
  if (typeof v === 'boolean') return v ? pt('yes') : pt('no');
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
  const k = `kind_${String(kind)}` as PKey;
  return k in zh ? pt(k) : String(kind);
}
