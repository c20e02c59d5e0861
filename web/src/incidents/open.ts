// The open incidents of the caller's scope (`GET /api/incidents?open=true`): one download
// shared by the incidents panel, its map layer and the count on its button, fetched again
// after every step taken; and how overdue each is.

import { get, type Fc, type Props } from '../api';
import { t } from '../i18n';
import { Listeners } from '../listeners';

/** What the list and an incident's own answer both say of it. */
export interface IncidentFacts extends Props {
  id: string;
  grid: string;
  category: string;
  description: string;
  reported_at: string;
  reported_by: string;
  status: string;
  status_at: string;
  assignee: { code: string; name: string } | null;
  due_at: string | null;
  overdue: boolean;
}

/** One incident as the list sends it (a feature's properties). */
export interface IncidentRow extends IncidentFacts {
  community: string;
  /** The first photo's id, when it has one. */
  photo?: string;
}

const URL = '/api/incidents?open=true&limit=10000';
let kept: Promise<Fc> | null = null;
/** How many are open and overdue, as of the last download (null before the first). */
let counted: { open: number; overdue: number } | null = null;
const changes = new Listeners();

/** The open incidents as GeoJSON points (downloaded once until [`reloadOpen`]). */
export function openIncidents(): Promise<Fc> {
  if (!kept) {
    kept = get<Fc>(URL);
    kept.then(
      (fc) => {
        counted = { open: fc.features.length, overdue: fc.features.filter((f) => f.properties.overdue === true).length };
        changes.call();
      },
      () => {
        kept = null;
      },
    );
  }
  return kept;
}

/** The open incidents, the most overdue first (by due time; those without one last). */
export async function openRows(): Promise<IncidentRow[]> {
  const fc = await openIncidents();
  const due = (r: IncidentRow) => (r.due_at ? Date.parse(r.due_at) : Infinity);
  return fc.features.map((f) => f.properties as IncidentRow).sort((a, b) => due(a) - due(b) || a.reported_at.localeCompare(b.reported_at));
}

/** Downloads the open incidents again (after a step) and tells the listeners. */
export async function reloadOpen(): Promise<void> {
  kept = null;
  await openIncidents().catch(() => undefined);
}

/** Calls `f` whenever a download of the open incidents has arrived. */
export function onOpen(f: () => void): void {
  changes.add(f);
}

/** The counts of the last download, or null before the first. */
export function openCounts(): { open: number; overdue: number } | null {
  return counted;
}

/** A span of time as days and hours, hours and minutes, or minutes. */
export function span(ms: number): string {
  const m = Math.max(0, Math.round(Math.abs(ms) / 60_000));
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  if (d > 0) return t('incidents.days_hours', { d, h });
  if (h > 0) return t('incidents.hours_minutes', { h, m: m % 60 });
  return t('incidents.minutes', { m });
}

/** "2 h 5 min left" or "overdue by 1 d 3 h" for an incident's current step. */
export function timeLeft(r: { due_at: string | null }, now = Date.now()): string {
  if (!r.due_at) return t('incidents.no_deadline');
  const ms = Date.parse(r.due_at) - now;
  return ms >= 0 ? t('incidents.left', { t: span(ms) }) : t('incidents.overdue_by', { t: span(ms) });
}
