// Incident categories of the server (src/domain/patrol.rs `Category`): names in both
// languages and map colours.
import type { Lang } from '../i18n';

export interface CategoryDef {
  id: string;
  zh: string;
  en: string;
  colour: string;
}

export const CATEGORIES: CategoryDef[] = [
  { id: 'dispute', zh: '矛盾纠纷', en: 'Dispute', colour: '#8e24aa' },
  { id: 'safety_hazard', zh: '安全隐患', en: 'Safety hazard', colour: '#e53935' },
  { id: 'environment', zh: '环境卫生', en: 'Environment', colour: '#43a047' },
  { id: 'facility_damage', zh: '设施损坏', en: 'Facility damage', colour: '#fb8c00' },
  { id: 'residents_request', zh: '社情民意', en: "Residents' request", colour: '#1e88e5' },
  { id: 'other', zh: '其他', en: 'Other', colour: '#757575' },
];

export function categoryName(id: unknown, lang: Lang): string {
  const c = CATEGORIES.find((k) => k.id === id);
  if (!c) return String(id ?? '—');
  return lang === 'en' ? c.en : c.zh;
}

/** Statuses of the incident lifecycle. */
export const STATUS_NAMES: Record<string, { zh: string; en: string }> = {
  reported: { zh: '已上报', en: 'Reported' },
  assigned: { zh: '已分派', en: 'Assigned' },
  in_progress: { zh: '处理中', en: 'In progress' },
  resolved: { zh: '已解决', en: 'Resolved' },
  verified: { zh: '已核实', en: 'Verified' },
  closed: { zh: '已关闭', en: 'Closed' },
};

export function statusName(s: unknown, lang: Lang): string {
  const n = STATUS_NAMES[String(s)];
  return n ? (lang === 'en' ? n.en : n.zh) : String(s ?? '—');
}
