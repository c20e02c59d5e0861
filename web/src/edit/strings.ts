// The words of the boundary editor: handles, saving, the server's refusals.
// Both interface languages, Chinese first; src/i18n.ts looks them up as `edit.<key>`.

const zh = {
  edit_boundary: '编辑边界',
  editing: '正在编辑边界',
  edit_help: '拖动顶点移动边界；点击边中点添加顶点；选中顶点后可删除。共用顶点默认一起移动。',
  linked: '共用顶点一起移动',
  undo: '撤销',
  delete_vertex: '删除顶点',
  saving: '正在保存…',
  nothing_changed: '没有改动',
  saved: '已保存 {n} 个网格，{m} 栋楼栋改变了所属网格',
  shared_hint: '缝隙或重叠常因只移动了一侧的边界：两个网格共用的顶点（蓝色）要一起移动，拖动共用顶点时两侧会同时改变。',
  rejected: '服务器拒绝了这次修改：网格必须无缝隙、无重叠地划分上级（容差 {tol} m²）。地图上红色为缝隙，橙色为重叠。',
  gap: '缝隙',
  outside: '超出上级',
  overlap: '重叠',
  stale: '网格已被他人修改（当前版本 {v}），请重新加载后再编辑。',
  reload_edit: '重新加载',
  invalid_geometry: '边界无效：{msg}',
  orphans: '有楼栋将不在任何二级网格内：{list}',
  ring_too_small: '边界至少需要三个顶点',
} as const;

const en: Record<keyof typeof zh, string> = {
  edit_boundary: 'Edit boundary',
  editing: 'Editing a boundary',
  edit_help:
    'Drag a vertex to move the boundary; click an edge midpoint to add a vertex; select a vertex to delete it. Shared vertices move together by default.',
  linked: 'Move shared vertices together',
  undo: 'Undo',
  delete_vertex: 'Delete vertex',
  saving: 'Saving…',
  nothing_changed: 'Nothing changed',
  saved: 'Saved {n} grid(s); {m} building(s) changed grid',
  shared_hint:
    'A gap or overlap usually comes from moving one side of a boundary only: move the vertices two grids share (blue) together; dragging a shared vertex moves both sides.',
  rejected:
    'The server rejected the change: grids must partition their parent without gaps or overlaps (tolerance {tol} m²). Gaps are red and overlaps orange on the map.',
  gap: 'gap',
  outside: 'outside the parent',
  overlap: 'overlap',
  stale: 'Someone else changed the grid (now version {v}); reload before editing.',
  reload_edit: 'Reload',
  invalid_geometry: 'Invalid boundary: {msg}',
  orphans: 'Buildings would lie outside every second-level grid: {list}',
  ring_too_small: 'A boundary needs at least three vertices',
};

export default { zh, en };
