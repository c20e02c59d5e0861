// The layer list: a toggle per layer, its legend rows (some of them filters), its options
// and its loading state. Re-rendered whenever a layer changes.
import { lang, t } from '../i18n';
import type { MapLayers } from '../map/layers';
import type { LegendItem } from '../map/registry';
import { h } from './dom';

function swatch(i: LegendItem): HTMLElement {
  const s = h('span', { class: 'swatch' });
  if (i.circle) {
    s.classList.add('circle');
    s.style.background = i.circle;
  } else {
    if (i.fill) s.style.background = i.fill;
    if (i.line) s.style.border = `2px ${i.dashed ? 'dashed' : 'solid'} ${i.line}`;
    if (!i.fill) s.classList.add('line');
  }
  return s;
}

/** Legends longer than this can be folded. */
const LONG = 6;

export function legend(layers: MapLayers): HTMLElement {
  const folded = new Set<string>();
  const el = h('nav', { class: 'legend', 'data-testid': 'legend', 'aria-label': t('ui.layers') });
  const render = () => {
    const blocks = [...layers.states.values()]
      // Layers the app fills itself (analysis results) are listed once they hold something.
      .filter((st) => st.def.source.kind !== 'local' || (st.count ?? 0) > 0)
      .sort((a, b) => b.def.order - a.def.order)
      .map((st) => {
        const ctx = { me: layers.me, lang: lang(), t, option: (k: string) => st.options[k] ?? '' };
        const box = h('input', { type: 'checkbox', checked: st.visible, 'data-layer': st.def.id });
        box.addEventListener('change', () => layers.setVisible(st.def.id, box.checked));
        const state =
          st.status === 'loading'
            ? h('span', { class: 'muted small' }, ` ${t('ui.loading')}`)
            : st.status === 'unavailable' || st.status === 'offline'
              ? h('span', { class: 'muted small', 'data-status': st.status }, ` (${t(st.status === 'offline' ? 'ui.layer_offline' : 'ui.unavailable')})`)
              : st.status === 'error'
                ? h('span', { class: 'error small', title: st.message ?? '' }, ' ⚠')
                : null;
        const head = h('label', { class: 'layer-head' }, box, ` ${t(st.def.title)}`, state);
        const items = st.visible && st.status !== 'unavailable' ? (st.def.legend?.(ctx) ?? []) : [];
        const rows = items.map((i) => {
          const off = i.toggle ? st.off.has(`${i.toggle.key}=${i.toggle.value}`) : false;
          const content = [swatch(i), h('span', {}, i.label)];
          return i.toggle
            ? h('li', {}, h('button', { type: 'button', class: `legend-row${off ? ' off' : ''}`, 'aria-pressed': String(!off), onclick: () => layers.toggleValue(st.def.id, i.toggle!.key, i.toggle!.value) }, content))
            : h('li', { class: 'legend-row' }, content);
        });
        const opts = st.visible
          ? (st.def.options ?? []).map((o) => {
              const sel = h('select', { 'data-option': `${st.def.id}.${o.key}` }, o.choices.map((c) => h('option', { value: c.value, selected: st.options[o.key] === c.value }, 'text' in c ? c.text : t(c.label))));
              sel.addEventListener('change', () => layers.setOption(st.def.id, o.key, sel.value));
              return h('label', { class: 'option small' }, `${t(o.label)} `, sel);
            })
          : [];
        // Long legends (station kinds) fold away; the fold is remembered across re-renders.
        let list: HTMLElement | null = rows.length ? h('ul', {}, rows) : null;
        if (list && rows.length > LONG) {
          const d = h('details', { open: !folded.has(st.def.id) }, h('summary', { class: 'small muted' }, t('ui.legend')), list);
          d.addEventListener('toggle', () => (d.open ? folded.delete(st.def.id) : folded.add(st.def.id)));
          list = d;
        }
        return h('section', { class: 'layer', 'data-layer': st.def.id, 'data-status': st.status }, head, opts, list);
      });
    const title = h('button', { type: 'button', class: 'legend-title', 'aria-expanded': String(!el.classList.contains('collapsed')), onclick: () => { el.classList.toggle('collapsed'); render(); } }, t('ui.layers'));
    el.replaceChildren(h('h2', {}, title), h('div', { class: 'legend-body' }, blocks));
  };
  layers.onChange(render);
  render();
  return el;
}
