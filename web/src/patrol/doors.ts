// The households (doors, 门牌) of the buildings of my patrol's grids, for the visit form:
// downloaded when online from `GET /api/grids/{code}/households` (one request per grid, its
// second-level grids included; the labels only, no personal data) and kept in IndexedDB
// (`state` key `doors:{user}:{grid}`), so the form lists a building's households without a
// connection, as src/patrol/mine.ts keeps my incidents. The form (`doorPicker`) shows them
// as checkboxes, none ticked at the start: the count of a visit is the number ticked, and
// the visit names them (`{building, households, doors}` in the patrol's end).

import { get } from '../api';
import { num, t } from '../i18n';
import { h } from '../ui/dom';
import { readState, writeState } from './db';

/** `GET /api/grids/{code}/households`. */
interface GridHouseholds {
  grid: string;
  buildings: { building_code: string; labels: string[] }[];
}

/** One grid's door lists as kept: building code → labels. */
interface Kept {
  /** When they were downloaded (ms since 1970). */
  at: number;
  buildings: Record<string, string[]>;
}

/** Doors in the order of the building: unit, then floor and room as numbers. */
const byDoor = (a: string, b: string) => a.localeCompare(b, 'zh', { numeric: true });

/** The door lists of the buildings of some grids, kept for use offline. */
export class DoorLists {
  private readonly doors = new Map<string, string[]>();
  /** Grids whose lists are in memory. */
  private readonly loaded = new Set<string>();

  constructor(private readonly user: string) {}

  private key(grid: string): string {
    return `doors:${this.user}:${grid}`;
  }

  /** The kept lists of `grids`, then (online) downloaded again and kept; a grid whose
   * download fails keeps its kept list. Resolves when every grid is done. */
  async load(grids: string[]): Promise<void> {
    await Promise.all(grids.map((g) => this.loadGrid(g)));
  }

  private async loadGrid(grid: string): Promise<void> {
    if (!this.loaded.has(grid)) {
      const kept = await readState<Kept>(this.key(grid)).catch(() => undefined);
      if (kept) this.keep(grid, kept);
    }
    if (!navigator.onLine) return;
    try {
      const r = await get<GridHouseholds>(`/api/grids/${encodeURIComponent(grid)}/households`);
      const kept: Kept = { at: Date.now(), buildings: Object.fromEntries(r.buildings.map((b) => [b.building_code, [...b.labels].sort(byDoor)])) };
      await writeState(this.key(grid), kept);
      this.keep(grid, kept);
    } catch {
      // offline or refused: the kept list (if any) stays
    }
  }

  private keep(grid: string, kept: Kept): void {
    for (const [code, labels] of Object.entries(kept.buildings)) this.doors.set(code, labels);
    this.loaded.add(grid);
  }

  /** A building's doors, or null when none are known (not downloaded, or no labels). */
  of(building: string): string[] | null {
    const d = this.doors.get(building);
    return d && d.length ? d : null;
  }
}

/** The visit form's households: a checkbox per door, `ticked` ticked (none for a building
 * not yet visited on this patrol), at most `max` of them at once (the building's
 * households, when known: the server refuses more). */
export function doorPicker(doors: string[], ticked: string[], max: number | null): { el: HTMLElement; ticked: () => string[] } {
  const on = new Set(ticked.filter((d) => doors.includes(d)));
  const count = h('p', { class: 'small', 'data-testid': 'visit-count' });
  const boxes: HTMLInputElement[] = [];
  const update = () => {
    count.textContent = t('patrol.doors_ticked', { n: num(on.size), total: num(doors.length) });
    const full = max !== null && on.size >= max;
    for (const b of boxes) b.disabled = full && !b.checked;
  };
  const items = doors.map((d) => {
    const box = h('input', { type: 'checkbox', value: d, checked: on.has(d), 'data-door': d });
    box.addEventListener('change', () => {
      if (box.checked) on.add(d);
      else on.delete(d);
      update();
    });
    boxes.push(box);
    return h('li', {}, h('label', {}, box, ` ${d}`));
  });
  const el = h('div', { class: 'visit-doors', 'data-testid': 'visit-doors' }, h('p', { class: 'small muted' }, t('patrol.doors_hint')), h('ul', { class: 'door-list' }, items), count);
  update();
  return { el, ticked: () => doors.filter((d) => on.has(d)) };
}
