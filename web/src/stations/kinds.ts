// Station kinds: the "1+8" system first (src/domain/stations.rs on the server), with the
// colour each is drawn in and its name in both languages.
import { nameIn, type Named } from '../i18n';
import type { Coloured } from '../map/style';

/** One kind of station. */
export interface StationKind extends Named, Coloured {}

export const STATION_KINDS: StationKind[] = [
  { id: 'party_mass_centre', zh: '党群公共服务中心', en: 'Party-mass service centre', colour: '#d50000' },
  { id: 'convenience', zh: '便民服务站', en: 'Convenience services', colour: '#ff6d00' },
  { id: 'new_resident_training', zh: '新市民培训站', en: 'New-resident training', colour: '#ffab00' },
  { id: 'elderly_care', zh: '助老养老站', en: 'Elderly care', colour: '#6d4c41' },
  { id: 'youth', zh: '青少年活动站', en: 'Youth activities', colour: '#00b8d4' },
  { id: 'hardship_relief', zh: '困难救助站', en: 'Hardship relief', colour: '#c51162' },
  { id: 'volunteer', zh: '志愿者工作站', en: 'Volunteers', colour: '#64dd17' },
  { id: 'culture', zh: '文化娱乐站', en: 'Culture and recreation', colour: '#aa00ff' },
  { id: 'social_org_incubation', zh: '社会组织孵化站', en: 'Social-organisation incubation', colour: '#304ffe' },
  { id: 'clinic', zh: '卫生服务站', en: 'Clinic', colour: '#2e7d32' },
  { id: 'kindergarten', zh: '幼儿园', en: 'Kindergarten', colour: '#f06292' },
  { id: 'school', zh: '学校', en: 'School', colour: '#1565c0' },
  { id: 'market', zh: '菜市场', en: 'Market', colour: '#9e9d24' },
  { id: 'park', zh: '公园', en: 'Park', colour: '#1b5e20' },
  { id: 'police_post', zh: '警务室', en: 'Police post', colour: '#263238' },
];

/** A station kind's name in the interface language (the kind itself when unknown). */
export function stationName(kind: string): string {
  return nameIn(STATION_KINDS, kind, kind);
}
