// The words of the service stations layer and panel (the kinds' names are in
// src/stations/kinds.ts, beside their colours).
// Both interface languages, Chinese first; src/i18n.ts looks them up as `stations.<key>`.

const zh = {
  layer: '服务站点',
  kind: '类型',
  programmes: '服务项目',
} as const;

const en: Record<keyof typeof zh, string> = {
  layer: 'Service stations',
  kind: 'Kind',
  programmes: 'Service programmes',
};

export default { zh, en };
