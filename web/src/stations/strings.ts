// The words of the service stations layer and panel (the kinds' names are in
// src/stations/kinds.ts, beside their colours).
// Both interface languages, Chinese first; src/i18n.ts looks them up as `stations.<key>`.

const zh = {
  layer: '服务站点',
  kind: '类型',
  programmes: '服务项目',
  address: '地址',
  opening_hours: '开放时间',
  phone: '服务电话',
  grid: '所在网格',
  edit_service: '修改开放时间和电话',
  saved: '已保存',
} as const;

const en: Record<keyof typeof zh, string> = {
  layer: 'Service stations',
  kind: 'Kind',
  programmes: 'Service programmes',
  address: 'Address',
  opening_hours: 'Opening hours',
  phone: 'Service phone',
  grid: 'Grid it stands in',
  edit_service: 'Change opening hours and phone',
  saved: 'Saved',
};

export default { zh, en };
