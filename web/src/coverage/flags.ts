// A little shared state of the coverage panel that its layers' legends read (kept apart
// from the controller so that layer files import nothing heavy).

let scenario = false;
let isoMinutes = 10;

/** Whether a what-if scenario with changes is shown. */
export function scenarioActive(): boolean {
  return scenario;
}

/** The minutes of the drawn isochrones. */
export function isochroneMinutes(): number {
  return isoMinutes;
}

export function setFlags(f: { scenario?: boolean; isoMinutes?: number }): void {
  if (f.scenario !== undefined) scenario = f.scenario;
  if (f.isoMinutes !== undefined) isoMinutes = f.isoMinutes;
}
