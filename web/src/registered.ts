// Finds every layer file (src/<feature>/layers/*.ts) and every panel file
// (src/<feature>/panels/*.ts) at build time.
// Kept apart from the registries' type modules, which the layer and panel files import:
// an eager glob becomes static imports, and a cycle would see half-initialised modules.
import type { LayerDef } from './map/registry';
import type { PanelDef } from './ui/panels';

/** Every registered layer, in drawing order. */
export function registeredLayers(): LayerDef[] {
  const mods = import.meta.glob<{ default: LayerDef }>('./*/layers/*.ts', { eager: true });
  const defs = Object.values(mods).map((m) => m.default);
  const ids = new Set<string>();
  for (const d of defs) {
    if (ids.has(d.id)) throw new Error(`two layers are called ${d.id}`);
    ids.add(d.id);
  }
  return defs.sort((a, b) => a.order - b.order);
}

/** Every registered panel. */
export function registeredPanels(): PanelDef[] {
  const mods = import.meta.glob<{ default: PanelDef }>('./*/panels/*.ts', { eager: true });
  return Object.values(mods)
    .map((m) => m.default)
    .sort((a, b) => a.id.localeCompare(b.id));
}
