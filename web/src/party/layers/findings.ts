// Party rule findings (党建问题): one marker per broken rule (GET /api/party/findings as
// GeoJSON) for the chosen year (双报到 rules are yearly), coloured by the rule's group;
// each rule can be switched off in the legend. A click opens the explanation.
import type { ExpressionSpecification } from 'maplibre-gl';
import { defineLayer, from } from '../../map/registry';
import { colourBy } from '../../map/style';
import { GROUP_COLOURS, RULES, ruleTitle } from '../rules';
import { partyFindings } from '../findings';
import { yearNow } from '../../i18n';

const THIS_YEAR = yearNow();
/** This year and the four before it. */
const YEARS = Array.from({ length: 5 }, (_, i) => String(THIS_YEAR - i));

/** A community's marker on a city's zone grows with its count of findings. */
const communityRadius: ExpressionSpecification = ['interpolate', ['linear'], ['sqrt', ['coalesce', ['get', 'count'], 0]], 0, 6, 30, 12, 100, 22];

/** Each rule's colour: its group's. */
const colour = () => colourBy('rule', RULES.map((r) => ({ id: r.id, colour: GROUP_COLOURS[r.group]! })), '#455a64');

/** Findings about single members are many: drawn below the others. */
function sortKey(): ExpressionSpecification {
  return ['match', ['get', 'rule'], 'member_without_post', 0, 'unit_without_project', 1, 2];
}

export default defineLayer({
  id: 'party_findings',
  order: 65,
  title: 'party.layer_findings',
  // On a city's whole zone: one marker per community with its count (see partyFindings).
  source: from.custom('party_findings?year={year}', (o) => partyFindings(o.year ?? String(THIS_YEAR))),
  requires: ['party', 'read'],
  hidden: true,
  // Findings have no code; their sentence tells them apart.
  key: 'message',
  pick: ['party_findings-circle', 'party_findings-mark'],
  options: [{ key: 'year', label: 'party.year', choices: YEARS.map((y) => ({ value: y, text: y })), initial: String(THIS_YEAR) }],
  styles: () => [
    {
      id: 'party_findings-circle',
      type: 'circle',
      layout: { 'circle-sort-key': sortKey() },
      paint: {
        'circle-color': colour(),
        // MapLibre takes `zoom` only as the input of a top-level interpolation: the
        // communities' markers (sized by their count) are the same at every zoom.
        'circle-radius': [
          'interpolate',
          ['linear'],
          ['zoom'],
          12,
          ['case', ['==', ['get', 'rule'], 'community'], communityRadius, ['match', ['get', 'rule'], 'member_without_post', 2.5, 4]],
          16,
          ['case', ['==', ['get', 'rule'], 'community'], communityRadius, ['match', ['get', 'rule'], 'member_without_post', 5, 8]],
        ],
        'circle-stroke-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#000000', '#ffffff'],
        'circle-stroke-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 1.5],
      },
    },
    {
      // A "!" tells findings from stations, which are coloured circles too.
      id: 'party_findings-mark',
      type: 'symbol',
      minzoom: 14,
      filter: ['!', ['in', ['get', 'rule'], ['literal', ['member_without_post', 'community']]]],
      layout: { 'text-field': '!', 'text-size': 12, 'text-allow-overlap': true, 'text-ignore-placement': true, 'symbol-sort-key': sortKey() },
      paint: { 'text-color': '#ffffff' },
    },
    {
      // A city's zone: each community's count of findings on its marker.
      id: 'party_findings-count',
      type: 'symbol',
      filter: ['==', ['get', 'rule'], 'community'],
      layout: { 'text-field': ['to-string', ['get', 'count']], 'text-size': 11, 'text-allow-overlap': true },
      paint: { 'text-color': '#ffffff' },
    },
  ],
  legend: () => RULES.map((r) => ({ label: ruleTitle(r.id), circle: GROUP_COLOURS[r.group], toggle: { key: 'rule', value: r.id } })),
});
