// Interface language: Chinese (zh-CN) by default, English on request; the choice is kept
// in localStorage. Data (names of places and people) is never translated.

const zh = {
  app_title: '网格化管理地图',
  sign_in: '登录',
  sign_out: '退出',
  username: '用户名',
  password: '密码',
  signing_in: '正在登录…',
  wrong_password: '用户名或密码错误',
  locked: '登录失败次数过多，请稍后再试',
  network_error: '无法连接服务器',
  loading: '加载中…',
  layers: '图层',
  legend: '图例',
  search: '搜索网格编码、社区或楼栋',
  no_results: '没有找到',
  close: '关闭',
  language: 'English',
  unavailable: '暂不可用',
  layer_offline: '离线，联网后加载',
  layer_communities: '社区',
  layer_grids1: '一级网格',
  layer_grids2: '二级网格',
  layer_buildings: '楼栋',
  layer_stations: '服务站点',
  layer_streets: '街道',
  shade_by: '着色依据',
  households: '户数',
  residents: '常住人口',
  party_members: '党员',
  employees: '从业人员',
  buildings: '楼栋',
  code: '编码',
  name: '名称',
  level: '层级',
  level_1: '一级网格',
  level_2: '二级网格',
  parent: '上级',
  community: '社区',
  area: '面积',
  party_org: '党组织',
  chief: '网格长',
  members: '网格员',
  children: '下级网格',
  grid: '网格',
  compound: '小区/院落',
  address: '地址',
  kind: '类型',
  programmes: '服务项目',
  version: '版本',
  since: '生效于',
  none: '无',
  not_provided: '服务器未提供',
  show_all: '显示全部',
  grids_count: '一级网格数',
  edit_boundary: '编辑边界',
  editing: '正在编辑边界',
  edit_help: '拖动顶点移动边界；点击边中点添加顶点；选中顶点后可删除。共用顶点默认一起移动。',
  linked: '共用顶点一起移动',
  undo: '撤销',
  delete_vertex: '删除顶点',
  cancel: '取消',
  save: '保存',
  saving: '正在保存…',
  nothing_changed: '没有改动',
  saved: '已保存 {n} 个网格，{m} 栋楼栋改变了所属网格',
  rejected: '服务器拒绝了这次修改：网格必须无缝隙、无重叠地划分上级（容差 {tol} m²）。地图上红色为缝隙，橙色为重叠。',
  gap: '缝隙',
  outside: '超出上级',
  overlap: '重叠',
  stale: '网格已被他人修改（当前版本 {v}），请重新加载后再编辑。',
  reload_edit: '重新加载',
  invalid_geometry: '边界无效：{msg}',
  orphans: '有楼栋将不在任何二级网格内：{list}',
  error: '出错了：{msg}',
  changed_grids: '已改动的网格',
  station_kinds: '站点类型',
  coverage: '十分钟服务圈',
  layer_coverage: '服务圈覆盖率',
  layer_coverage_gaps: '未覆盖楼栋',
  layer_coverage_iso: '等时圈',
  layer_coverage_plan: '规划方案',
  scope: '范围',
  role_admin: '管理员',
  role_planner: '规划员',
  role_grid_chief: '网格长',
  role_patrol: '网格员',
  role_viewer: '查看者',
  fit_scope: '回到我的范围',
  menu: '菜单',
  people_count: '{n} 人',
  households_count: '{n} 户',
  hw_major: '主要道路',
  hw_minor: '支路',
  hw_path: '步行道',
  // The party view's layer and tool labels; its other words are in src/party/strings.ts.
  layer_party: '党组织网格',
  layer_party_findings: '党建问题',
  party_view: '党建视图',
  party_colour_by: '着色依据',
  party_cell_size: '党员人数',
  party_rule_status: '规则检查',
  party_cell_level: '层级',
  party_branches: '网格党支部（一级）',
  party_groups: '党小组（二级）',
  party_year: '年度',
  // Patrols and the week view (src/patrol/, issue 6); the rest in src/patrol/strings.ts.
  layer_patrol_week: '本周巡查状态',
  layer_patrol_tracks: '巡查轨迹',
  layer_incidents: '巡查事件',
  week_view: '巡查周报',
} as const;

export type Key = keyof typeof zh;

const en: Record<Key, string> = {
  app_title: 'Grid management map',
  sign_in: 'Sign in',
  sign_out: 'Sign out',
  username: 'Username',
  password: 'Password',
  signing_in: 'Signing in…',
  wrong_password: 'Wrong username or password',
  locked: 'Too many failed sign-ins; try again later',
  network_error: 'Cannot reach the server',
  loading: 'Loading…',
  layers: 'Layers',
  legend: 'Legend',
  search: 'Search a grid code, community or building',
  no_results: 'Nothing found',
  close: 'Close',
  language: '中文',
  unavailable: 'not available',
  layer_offline: 'offline, loads when back online',
  layer_communities: 'Communities',
  layer_grids1: 'First-level grids',
  layer_grids2: 'Second-level grids',
  layer_buildings: 'Buildings',
  layer_stations: 'Service stations',
  layer_streets: 'Streets',
  shade_by: 'Shade by',
  households: 'Households',
  residents: 'Residents',
  party_members: 'Party members',
  employees: 'Employees',
  buildings: 'Buildings',
  code: 'Code',
  name: 'Name',
  level: 'Level',
  level_1: 'First-level grid',
  level_2: 'Second-level grid',
  parent: 'Parent',
  community: 'Community',
  area: 'Area',
  party_org: 'Party organisation',
  chief: 'Grid chief',
  members: 'Grid members',
  children: 'Second-level grids',
  grid: 'Grid',
  compound: 'Compound',
  address: 'Address',
  kind: 'Kind',
  programmes: 'Service programmes',
  version: 'Version',
  since: 'In force since',
  none: 'none',
  not_provided: 'not provided by the server',
  show_all: 'Show all',
  grids_count: 'First-level grids',
  edit_boundary: 'Edit boundary',
  editing: 'Editing a boundary',
  edit_help:
    'Drag a vertex to move the boundary; click an edge midpoint to add a vertex; select a vertex to delete it. Shared vertices move together by default.',
  linked: 'Move shared vertices together',
  undo: 'Undo',
  delete_vertex: 'Delete vertex',
  cancel: 'Cancel',
  save: 'Save',
  saving: 'Saving…',
  nothing_changed: 'Nothing changed',
  saved: 'Saved {n} grid(s); {m} building(s) changed grid',
  rejected:
    'The server rejected the change: grids must partition their parent without gaps or overlaps (tolerance {tol} m²). Gaps are red and overlaps orange on the map.',
  gap: 'gap',
  outside: 'outside the parent',
  overlap: 'overlap',
  stale: 'Someone else changed the grid (now version {v}); reload before editing.',
  reload_edit: 'Reload',
  invalid_geometry: 'Invalid boundary: {msg}',
  orphans: 'Buildings would lie outside every second-level grid: {list}',
  error: 'Something went wrong: {msg}',
  changed_grids: 'Changed grids',
  station_kinds: 'Station kinds',
  coverage: 'Ten-minute service circle',
  layer_coverage: 'Service circle coverage',
  layer_coverage_gaps: 'Uncovered buildings',
  layer_coverage_iso: 'Isochrones',
  layer_coverage_plan: 'Planning scenario',
  scope: 'Scope',
  role_admin: 'Administrator',
  role_planner: 'Planner',
  role_grid_chief: 'Grid chief',
  role_patrol: 'Patrol staff',
  role_viewer: 'Viewer',
  fit_scope: 'Back to my area',
  menu: 'Menu',
  people_count: '{n} people',
  households_count: '{n} households',
  hw_major: 'Main roads',
  hw_minor: 'Minor roads',
  hw_path: 'Footpaths',
  layer_party: 'Party cells',
  layer_party_findings: 'Party rule findings',
  party_view: 'Party organisation view',
  party_colour_by: 'Colour by',
  party_cell_size: 'Party members',
  party_rule_status: 'Rule checks',
  party_cell_level: 'Level',
  party_branches: 'Grid branches (first level)',
  party_groups: 'Party groups (second level)',
  party_year: 'Year',
  layer_patrol_week: 'This week\'s patrols',
  layer_patrol_tracks: 'Patrol tracks',
  layer_incidents: 'Incidents',
  week_view: 'Patrol week',
};

export type Lang = 'zh-CN' | 'en';

let current: Lang = localStorage.getItem('wangge.lang') === 'en' ? 'en' : 'zh-CN';
const listeners = new Set<() => void>();

/** The interface language. */
export function lang(): Lang {
  return current;
}

/** Switches the language and tells every listener to re-render. */
export function setLang(l: Lang): void {
  current = l;
  localStorage.setItem('wangge.lang', l);
  document.documentElement.lang = l;
  listeners.forEach((f) => f());
}

/** Calls `f` after every language switch. */
export function onLang(f: () => void): void {
  listeners.add(f);
}

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const s: string = current === 'en' ? en[key] : zh[key];
  return s.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

/** A number formatted for the interface language. */
export function num(n: unknown, digits = 0): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  return n.toLocaleString(current, { maximumFractionDigits: digits });
}

/** An area in m², shown in m² below one hectare and in km² above. */
export function area(m2: unknown): string {
  if (typeof m2 !== 'number') return '—';
  if (m2 < 10_000) return `${num(m2)} m²`;
  return `${num(m2 / 1_000_000, 3)} km²`;
}

document.documentElement.lang = current;
