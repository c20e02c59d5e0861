// Incident categories of the server (src/domain/patrol.rs `Category`) with their names in
// both languages and map colours; the names of the lifecycle's statuses are words of
// src/patrol/strings.ts (`status_<status>`).
import { nameIn, tOr, type Named } from '../i18n';
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

/** A status's name in the interface language. */
export function statusName(s: unknown): string {
  return tOr(`patrol.status_${String(s)}`, String(s ?? '—'));
}
