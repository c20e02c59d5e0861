// Style pieces of the coverage layers.
import type { ExpressionSpecification } from 'maplibre-gl';
import { colourBy } from '../map/style';
import { STATION_KINDS } from '../stations/kinds';

/** A station kind's colour from the `kind` property. */
export function colourByKind(fallback = '#607d8b'): ExpressionSpecification {
  return colourBy('kind', STATION_KINDS, fallback);
}

/** Colours of the buildings layer of the analysis. */
export const GAP = { uncovered: '#d50000', newly_covered: '#00c853', newly_uncovered: '#6200ea' } as const;
/** Colour of the siting proposals. */
export const PICK = '#0d47a1';
/** Colour of a station removed in the scenario. */
export const REMOVED = '#b71c1c';
