// Style pieces of the coverage layers.
import type { ExpressionSpecification } from 'maplibre-gl';
import { STATION_KINDS } from '../stations/kinds';

/** A station kind's colour from the `kind` property. */
export function colourByKind(fallback = '#607d8b'): ExpressionSpecification {
  const e: unknown[] = ['match', ['get', 'kind']];
  for (const k of STATION_KINDS) e.push(k.kind, k.colour);
  e.push(fallback);
  return e as ExpressionSpecification;
}

/** Colours of the buildings layer of the analysis. */
export const GAP = { uncovered: '#d50000', newly_covered: '#00c853', newly_uncovered: '#6200ea' } as const;
/** Colour of the siting proposals. */
export const PICK = '#0d47a1';
/** Colour of a station removed in the scenario. */
export const REMOVED = '#b71c1c';
