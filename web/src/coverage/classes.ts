// Coverage classes: the share of a grid's residents who reach the chosen services on foot,
// in five classes around the national target of 85% (and "no residents"). Shared by the
// map layer, its legend and the panel.
import type { ExpressionSpecification } from 'maplibre-gl';
import { num, t } from '../i18n';

/** Lower bounds (%) of classes 1..4; class 0 is below the first. */
export const BREAKS = [50, 70, 85, 95] as const;
/** Colours of classes 0..4 (red to green). */
export const COLOURS = ['#d7191c', '#fdae61', '#fee08b', '#a6d96a', '#1a9641'] as const;
/** Colour of a grid with no residents (class -1). */
export const NONE_COLOUR = '#bdbdbd';

/** The class of a percentage (null: no residents → -1). */
export function classOf(pct: number | null): number {
  if (pct === null) return -1;
  let c = 0;
  for (const b of BREAKS) if (pct >= b) c++;
  return c;
}

/** The colour of a class. */
export function colourOf(cls: number): string {
  return cls < 0 ? NONE_COLOUR : (COLOURS[cls] ?? NONE_COLOUR);
}

/** Fill colour by the `cls` property. */
export function fillByClass(): ExpressionSpecification {
  const e: unknown[] = ['match', ['get', 'cls']];
  COLOURS.forEach((c, i) => e.push(i, c));
  e.push(NONE_COLOUR);
  return e as ExpressionSpecification;
}

/** Legend rows: class label and colour, best class first. */
export function legendRows(): { label: string; colour: string }[] {
  const rows: { label: string; colour: string }[] = COLOURS.map((colour: string, i) => {
    const lo = i === 0 ? null : BREAKS[i - 1]!;
    const hi = BREAKS[i] ?? null;
    const label = lo === null ? `< ${num(hi)}%` : hi === null ? `≥ ${num(lo)}%` : `${num(lo)}–${num(hi)}%`;
    return { label, colour };
  }).reverse();
  rows.push({ label: t('coverage.no_residents'), colour: NONE_COLOUR });
  return rows;
}
