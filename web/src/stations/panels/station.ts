// A service station's panel, from `GET /api/stations/{code}`: kind, programmes, address,
// opening hours, service phone, the community it serves and the grid it stands in. Accounts
// that change stations set the opening hours and phone here (`PUT .../service`). The tile's
// properties stand in while the answer is missing.
import { request, type Props } from '../../api';
import { num, t } from '../../i18n';
import { stationName } from '../kinds';
import { h, row } from '../../ui/dom';
import { definePanel, type AppApi } from '../../ui/panels';

interface Ref {
  code: string;
  name: string;
}

/** `GET /api/stations/{code}`. */
interface StationDetail {
  code: string;
  name: string;
  kind: string;
  programmes: number | null;
  address: string | null;
  opening_hours: string | null;
  phone: string | null;
  community: Ref | null;
  grid: Ref | null;
}

const field = (name: string, v: string | null) => (v ? h('span', { 'data-field': name }, v) : null);

function facts(app: AppApi, d: StationDetail): HTMLElement {
  return h(
    'dl',
    { class: 'facts', 'data-testid': 'station-facts' },
    row(t('ui.code'), field('code', d.code)),
    row(t('stations.kind'), stationName(d.kind)),
    row(t('stations.programmes'), num(d.programmes)),
    row(t('stations.address'), field('address', d.address)),
    row(t('stations.opening_hours'), field('opening_hours', d.opening_hours)),
    row(t('stations.phone'), d.phone ? h('a', { href: `tel:${d.phone}`, 'data-field': 'phone' }, d.phone) : null),
    row(t('ui.community'), d.community ? field('community', `${d.community.name} (${d.community.code})`) : null),
    row(
      t('stations.grid'),
      d.grid ? h('button', { type: 'button', class: 'link', 'data-field': 'grid', onclick: () => void app.openGrid(d.grid!.code) }, `${d.grid.name} (${d.grid.code})`) : null,
    ),
  );
}

/** The form that sets opening hours and phone; it writes the facts above again once saved. */
function serviceForm(app: AppApi, d: StationDetail, redraw: (d: StationDetail) => void): HTMLElement {
  const hours = h('input', { type: 'text', maxlength: 200, value: d.opening_hours ?? '', 'data-field': 'opening_hours_input' });
  const phone = h('input', { type: 'tel', maxlength: 20, value: d.phone ?? '', 'data-field': 'phone_input' });
  const save = h('button', { type: 'submit', class: 'primary' }, t('ui.save'));
  const form = h(
    'form',
    { 'data-testid': 'station-service' },
    h('label', { class: 'option' }, t('stations.opening_hours'), hours),
    h('label', { class: 'option' }, t('stations.phone'), phone),
    save,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    save.disabled = true;
    const body = { opening_hours: hours.value.trim() || null, phone: phone.value.trim() || null };
    request<{ opening_hours: string | null; phone: string | null }>(`/api/stations/${encodeURIComponent(d.code)}/service`, { method: 'PUT', body })
      .then((r) => {
        redraw({ ...d, opening_hours: r.data.opening_hours, phone: r.data.phone });
        app.toast(t('stations.saved'));
      })
      .catch((err: unknown) => app.toast(t('ui.error', { msg: err instanceof Error ? err.message : String(err) }), 'error'))
      .finally(() => {
        save.disabled = false;
      });
  });
  return h('details', {}, h('summary', {}, t('stations.edit_service')), form);
}

function fromTile(p: Props): StationDetail {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const community = str(p.community_code);
  return {
    code: String(p.code ?? ''),
    name: String(p.name ?? ''),
    kind: String(p.kind ?? ''),
    programmes: typeof p.programmes === 'number' ? p.programmes : null,
    address: str(p.address),
    opening_hours: null,
    phone: null,
    community: community ? { code: community, name: community } : null,
    grid: null,
  };
}

export default definePanel({
  id: 'station',
  layers: ['stations'],
  title: (sel) => String(sel?.props.name ?? t('stations.layer')),
  render: async (app, sel) => {
    const props = sel?.props ?? {};
    let d: StationDetail;
    try {
      d = (await request<StationDetail>(`/api/stations/${encodeURIComponent(String(props.code ?? ''))}`)).data;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return h('div', {}, facts(app, fromTile(props)), h('p', { class: 'error' }, t('ui.error', { msg })));
    }
    const out = h('div', { 'data-testid': 'station-panel' });
    const redraw = (next: StationDetail) => out.firstChild?.replaceWith(facts(app, next));
    out.append(facts(app, d));
    if (app.can('stations', 'write')) out.append(serviceForm(app, d, redraw));
    return out;
  },
});
