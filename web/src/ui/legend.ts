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

export function legend(layers: MapLayers): HTMLElement {
  const el = h('nav', { class: 'legend', 'data-testid': 'legend', 'aria-label': t('layers') });
  const render = () => {
    const blocks = [...layers.states.values()]
      .sort((a, b) => b.def.order - a.def.order)
      .map((st) => {
        const ctx = { me: layers.me, lang: lang(), t, option: (k: string) => st.options[k] ?? '' };
        const box = h('input', { type: 'checkbox', checked: st.visible, 'data-layer': st.def.id });
        box.addEventListener('change', () => layers.setVisible(st.def.id, box.checked));
        const state =
          st.status === 'loading'
            ? h('span', { class: 'muted small' }, ` ${t('loading')}`)
            : st.status === 'unavailable'
              ? h('span', { class: 'muted small' }, ` (${t('unavailable')})`)
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
              const sel = h('select', { 'data-option': `${st.def.id}.${o.key}` }, o.choices.map((c) => h('option', { value: c.value, selected: st.options[o.key] === c.value }, t(c.label))));
              sel.addEventListener('change', () => layers.setOption(st.def.id, o.key, sel.value));
              return h('label', { class: 'option small' }, `${t(o.label)} `, sel);
            })
          : [];
        return h('section', { class: 'layer', 'data-layer': st.def.id, 'data-status': st.status }, head, opts, rows.length ? h('ul', {}, rows) : null);
      });
    el.replaceChildren(h('h2', {}, t('layers')), ...blocks);
  };
  layers.onChange(render);
  render();
  return el;
}
