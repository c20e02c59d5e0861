// Incident categories of the server (src/domain/patrol.rs `Category`) with their names in
// both languages and map colours, and the names of the incident lifecycle's statuses.
import { nameIn, type Named } from '../i18n';
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
  return nameIn(CATEGORIES, id, String(id ?? '—'));
}

/** Statuses of the incident lifecycle. */
export const STATUSES: (Named & { id: string })[] = [
  { id: 'reported', zh: '已上报', en: 'Reported' },
  { id: 'assigned', zh: '已分派', en: 'Assigned' },
  { id: 'in_progress', zh: '处理中', en: 'In progress' },
  { id: 'resolved', zh: '已解决', en: 'Resolved' },
  { id: 'verified', zh: '已核实', en: 'Verified' },
  { id: 'closed', zh: '已关闭', en: 'Closed' },
];

/** A status's name in the interface language. */
export function statusName(s: unknown): string {
  return nameIn(STATUSES, String(s), String(s ?? '—'));
}
