// Style pieces shared by several layers.
import type { ExpressionSpecification } from 'maplibre-gl';

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

/** Opacity that rises for the selected feature. */
export function selectedOr(on: number, off: number): ExpressionSpecification {
  return ['case', ['boolean', ['feature-state', 'selected'], false], on, off];
}
