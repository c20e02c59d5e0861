// Incident categories of the server (src/domain/patrol.rs `Category`) with their names in
// both languages and map colours, and the names of the incident lifecycle's statuses.
import { named, type Named } from '../i18n';
import type { Coloured } from '../map/style';

/** One incident category. */
export interface CategoryDef extends Named, Coloured {}

export const CATEGORIES: CategoryDef[] = [
  { id: 'dispute', zh: '矛盾纠纷', en: 'Dispute', colour: '#8e24aa' },
  { id: 'safety_hazard', zh: '安全隐患', en: 'Safety hazard', colour: '#e53935' },
  { id: 'environment', zh: '环境卫生', en: 'Environment', colour: '#43a047' },
  { id: 'facility_damage', zh: '设施损坏', en: 'Facility damage', colour: '#fb8c00' },
  { id: 'residents_request', zh: '社情民意', en: "Residents' request", colour: '#1e88e5' },
  { id: 'other', zh: '其他', en: 'Other', colour: '#757575' },
];

/** A category's name in the interface language. */
export function categoryName(id: unknown): string {
  const c = CATEGORIES.find((k) => k.id === id);
  return c ? named(c) : String(id ?? '—');
}

/** Statuses of the incident lifecycle. */
export const STATUS_NAMES: Record<string, Named> = {
  reported: { zh: '已上报', en: 'Reported' },
  assigned: { zh: '已分派', en: 'Assigned' },
  in_progress: { zh: '处理中', en: 'In progress' },
  resolved: { zh: '已解决', en: 'Resolved' },
  verified: { zh: '已核实', en: 'Verified' },
  closed: { zh: '已关闭', en: 'Closed' },
};

/** A status's name in the interface language. */
export function statusName(s: unknown): string {
  const n = STATUS_NAMES[String(s)];
  return n ? named(n) : String(s ?? '—');
}
