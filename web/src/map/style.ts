// Style pieces shared by several layers.
import type { ExpressionSpecification } from 'maplibre-gl';
import type { Me } from '../api';

/** A value of a feature property with the colour it is drawn in (a station kind, an
 * incident category...). */
export interface Coloured {
  id: string;
  colour: string;
}

/** A grid's label: `code`, `name` and (when the grid has one) its chief, one per line. */
export function gridLabel(chief: string): ExpressionSpecification {
  return [
    'concat',
    ['get', 'code'],
    '\n',
    ['get', 'name'],
    ['case', ['==', ['typeof', ['get', 'chief']], 'string'], ['concat', '\n', chief, ' ', ['get', 'chief']], ''],
  ];
}

/** Whether a feature's `code` lies inside the account's own scope, not merely in what it may
 * see (a grid chief sees the rest of its region too, as counts): codes nest, a grid's code
 * starting with its community's and a second-level grid's with its first-level grid's, so a
 * code is inside when it starts with a code of the scope (`domain::access::Caller::in_scope`).
 * `null` when the scope is the whole region, all the account sees. */
export function inScope(me: Me): ExpressionSpecification | null {
  const { kind, communities, grids } = me.scope;
  if (kind === 'region') return null;
  const byLength = new Map<number, string[]>();
  for (const c of kind === 'communities' ? communities : grids) byLength.set(c.length, [...(byLength.get(c.length) ?? []), c]);
  const tests = [...byLength].map(([n, codes]): ExpressionSpecification => ['in', ['slice', ['to-string', ['get', 'code']], 0, n], ['literal', codes]]);
  return ['any', ...tests] as ExpressionSpecification;
}

/** Opacity that rises for the selected feature. */
export function selectedOr(on: number, off: number): ExpressionSpecification {
  return ['case', ['boolean', ['feature-state', 'selected'], false], on, off];
}

/** The colour of each value of `property`, and `fallback` for any other value. */
export function colourBy(property: string, values: readonly Coloured[], fallback: string): ExpressionSpecification {
  const e: unknown[] = ['match', ['get', property]];
  for (const v of values) e.push(v.id, v.colour);
  e.push(fallback);
  return e as ExpressionSpecification;
}

/** Classes of a count (`property`, missing counted as 0) cut at `breaks`: `colours[0]` below
 * the first break, `colours[i]` from `breaks[i - 1]` on (one colour more than breaks). */
export function colourSteps(property: string, breaks: readonly number[], colours: readonly string[]): ExpressionSpecification {
  const e: unknown[] = ['step', ['coalesce', ['get', property], 0], colours[0]];
  breaks.forEach((v, i) => e.push(v, colours[i + 1]));
  return e as ExpressionSpecification;
}

/** How the classes of `colourSteps` are labelled in a legend. */
export interface StepWords {
  below: (n: number) => string;
  range: (from: number, to: number) => string;
  from: (n: number) => string;
}

/** Legend rows of `colourSteps(_, breaks, colours)`: below the first break, each range
 * (its last whole number included), from the last break on. */
export function stepLegend(breaks: readonly number[], colours: readonly string[], words: StepWords): { fill: string; label: string }[] {
  return colours.map((fill, i) => ({
    fill,
    label: i === 0 ? words.below(breaks[0]!) : i === breaks.length ? words.from(breaks[i - 1]!) : words.range(breaks[i - 1]!, breaks[i]! - 1),
  }));
}
