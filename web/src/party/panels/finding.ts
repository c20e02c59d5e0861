// A rule finding's panel (a marker of the party findings layer): which rule, about what,
// where, the numbers behind it, and the other findings drawn at the same spot.
import { definePanel } from '../../ui/panels';
import { h } from '../../ui/dom';
import { explain, findingFeature, findingLinks, findingProps, findingsAt, focusParty } from '../findings';
import { ruleTitle } from '../rules';
import { t } from '../../i18n';

export default definePanel({
  id: 'party_finding',
  layers: ['party_findings'],
  requires: ['party', 'read'],
  title: (sel) => ruleTitle(sel?.props.rule, sel?.props.title),
  render: (app, sel) => {
    if (!sel) return h('p', {}, '—');
    if (sel.props.rule === 'community') {
      // A city's zone: a community's count; its findings open on the map.
      focusParty(app, String(sel.props.code));
      return h('p', { 'data-testid': 'finding-community' }, String(sel.props.message ?? ''));
    }
    // The downloaded feature keeps its nested numbers; a picked one may carry them as text.
    const f = findingFeature(app, sel.props);
    const out = h('div', { 'data-testid': 'finding' }, explain(app, findingProps(f?.properties ?? sel.props)));
    const others = f ? findingsAt(app, f) : [];
    if (others.length) out.append(h('h3', {}, t('party.findings_here')), findingLinks(app, others, 'findings-here'));
    return out;
  },
});
