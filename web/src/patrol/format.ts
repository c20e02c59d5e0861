// Formats of the patrol views: durations, lengths, shares (times: `when` in src/i18n.ts).
import { num } from '../i18n';

/** `1:05:09` or `5:09`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

/** A length: metres below a kilometre, kilometres above. */
export function length(m: unknown): string {
  if (typeof m !== 'number' || !Number.isFinite(m)) return '—';
  return m < 1000 ? `${num(m)} m` : `${num(m / 1000, 2)} km`;
}

/** A share as a percentage. */
export function pct(x: unknown): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  return `${num(x * 100, 1)}%`;
}
