// Party cells (党组织网格): grids as their party organisations (a first-level grid's branch,
// a second-level grid's group), coloured by the number of party members or by whether the
// cell's rules pass (GET /api/party/cells). Off at start; party data needs `party: read`.
import type { ExpressionSpecification, FilterSpecification } from 'maplibre-gl';
import { option, viewLayer } from '../../map/registry';
import { colourSteps, selectedOr, stepLegend } from '../../map/style';
import { partyCells } from '../findings';
import { t } from '../../i18n';

/** Light to dark: more members. */
const SIZE_COLOURS = ['#fff5f0', '#fcbba1', '#fb6a4a', '#cb181d', '#67000d'];
/** Breaks of the member counts: groups (二级), and branches (一级), which are larger (3 and
 * 50 are the rules' limits of a branch). */
export const SIZE_BREAKS: Record<string, number[]> = {
  '2': [20, 40, 60, 80],
  '1': [3, 50, 100, 150],
  '0': [200, 400, 600, 800],
};
export const STATUS_COLOURS: Record<string, string> = { ok: '#2e7d32', failing: '#d32f2f' };

function steps(b: number[]): ExpressionSpecification {
  return colourSteps('members', b, SIZE_COLOURS);
}

function fill(metric: string, level: string): ExpressionSpecification {
  if (metric === 'status') return ['match', ['get', 'status'], 'ok', STATUS_COLOURS.ok!, STATUS_COLOURS.failing!];
  // A city's zone comes as communities (level 0), which hold many more members.
  return ['case', ['==', ['get', 'level'], 0], steps(SIZE_BREAKS['0']!), steps(SIZE_BREAKS[level] ?? SIZE_BREAKS['2']!)];
}

/** Cells of the level chosen, and the communities a city's zone is summed in. */
function ofLevel(level: string): FilterSpecification {
  return ['any', ['==', ['get', 'level'], Number(level)], ['==', ['get', 'level'], 0]] as FilterSpecification;
}

// Its data: per community on a city's whole zone, a community's cells once one is chosen.
export default viewLayer('party', () => partyCells(), {
  order: 45,
  title: 'party.layer',
  requires: ['party', 'read'],
  pick: ['party-fill'],
  communities: true,
  options: [
    option('metric', 'party.colour_by', [['members', 'party.cell_size'], ['status', 'party.status']]),
    option('level', 'party.cell_level', [['2', 'party.groups'], ['1', 'party.branches']]),
  ],
  styles: (c) => {
    const level = c.option('level') || '2';
    return [
      {
        id: 'party-fill',
        type: 'fill',
        filter: ofLevel(level),
        paint: { 'fill-color': fill(c.option('metric'), level), 'fill-opacity': selectedOr(0.85, 0.6) },
      },
      {
        id: 'party-line',
        type: 'line',
        filter: ofLevel(level),
        paint: {
          'line-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#0d47a1', '#ffffff'],
          'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 1.2],
        },
      },
      {
        id: 'party-label',
        type: 'symbol',
        filter: ofLevel(level),
        minzoom: level === '1' ? 13 : 14.5,
        layout: {
          'text-field': ['concat', ['coalesce', ['get', 'org_name'], ['get', 'name']], '\n', c.t('grids.party_members'), ' ', ['to-string', ['get', 'members']]],
          'text-size': 11,
          'text-max-width': 12,
        },
        paint: { 'text-color': '#4a0000', 'text-halo-color': '#fff', 'text-halo-width': 1.5 },
      },
    ];
  },
  legend: (c) => {
    if (c.option('metric') === 'status') {
      return [
        { label: t('party.legend_ok'), fill: STATUS_COLOURS.ok!, toggle: { key: 'status', value: 'ok' } },
        { label: t('party.legend_failing'), fill: STATUS_COLOURS.failing!, toggle: { key: 'status', value: 'failing' } },
      ];
    }
    return stepLegend(SIZE_BREAKS[c.option('level')] ?? SIZE_BREAKS['2']!, SIZE_COLOURS, {
      below: (n) => t('party.members_below', { n }),
      range: (a, b) => t('party.members_range', { a, b }),
      from: (n) => t('party.members_from', { n }),
    });
  },
});
