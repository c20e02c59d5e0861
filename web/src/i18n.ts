// The interface's words: Chinese (zh-CN) by default, English on request; the choice is kept
// in localStorage. Each feature keeps its words in its own `strings.ts` (src/ui/strings.ts
// for the app's shell and shared words), and every text is looked up here by a namespaced
// key, `t('party.cell')`: the namespace is the folder of its strings file. Data (names of
// places and people) is never translated. Numbers, areas and times are formatted here too
// (times always in Shanghai's zone).
import assess from './assess/strings';
import coverage from './coverage/strings';
import edit from './edit/strings';
import grids from './grids/strings';
import incidents from './incidents/strings';
import party from './party/strings';
import patrol from './patrol/strings';
import stations from './stations/strings';
import ui from './ui/strings';
import { Listeners } from './listeners';

const WORDS = { assess, coverage, edit, grids, incidents, party, patrol, stations, ui };
type Words = typeof WORDS;

/** The namespaces: one per feature folder with a `strings.ts`. */
export type Namespace = keyof Words;

/** The keys of one namespace, without it (e.g. what the patrol outbox stores with an item). */
export type KeyIn<N extends Namespace> = keyof Words[N]['zh'] & string;

/** Every text of the interface, as `namespace.key`. */
export type Key = { [N in Namespace]: `${N}.${KeyIn<N>}` }[Namespace];

export type Lang = 'zh-CN' | 'en';

let current: Lang = localStorage.getItem('wangge.lang') === 'en' ? 'en' : 'zh-CN';
const switches = new Listeners();

/** The interface language. */
export function lang(): Lang {
  return current;
}

/** Switches the language and tells every listener to re-render. */
export function setLang(l: Lang): void {
  current = l;
  localStorage.setItem('wangge.lang', l);
  document.documentElement.lang = l;
  switches.call();
}

/** Calls `f` after every language switch. */
export function onLang(f: () => void): void {
  switches.add(f);
}

/** The words of `key`'s namespace in the interface language, and the key within it. */
function lookup(key: string): [Record<string, string> | undefined, string] {
  const dot = key.indexOf('.');
  const words = WORDS[key.slice(0, dot) as Namespace] as { zh: Record<string, string>; en: Record<string, string> } | undefined;
  return [current === 'en' ? words?.en : words?.zh, key.slice(dot + 1)];
}

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const [words, k] = lookup(key);
  const s = words?.[k] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

/** True when `key` is a text of the interface (for keys built from data, e.g. a kind). */
export function has(key: string): key is Key {
  const [words, k] = lookup(key);
  return words !== undefined && Object.hasOwn(words, k);
}

/** The text for a key built from data (e.g. `party.kind_${kind}`), or `fallback` when the
 * interface has no such text. */
export function tOr(key: string, fallback: string): string {
  return has(key) ? t(key) : fallback;
}

/** A thing of the data model named in both languages (a station kind, a rule, a category). */
export interface Named {
  zh: string;
  en: string;
}

/** Its name in the interface language. */
export function named(n: Named): string {
  return current === 'en' ? n.en : n.zh;
}

/** The name of the entry `id` of a table of named things, or `fallback` when there is none. */
export function nameIn(table: readonly (Named & { id: string })[], id: unknown, fallback: string): string {
  const n = table.find((x) => x.id === id);
  return n ? named(n) : fallback;
}

/** A number formatted for the interface language. */
export function num(n: unknown, digits = 0): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  return n.toLocaleString(current, { maximumFractionDigits: digits });
}

/** The product's time zone: every time and date is shown as clocks in Shanghai show it,
 * wherever the browser is (the server counts days and weeks in it too). */
export const TIME_ZONE = 'Asia/Shanghai';

/** A time as clocks in Shanghai show it (`6/2 09:30`): the one formatter of times. */
export function when(v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') return '—';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(current, { timeZone: TIME_ZONE, month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** The year it is now in Shanghai. */
export function yearNow(): number {
  return Number(new Intl.DateTimeFormat('en', { timeZone: TIME_ZONE, year: 'numeric' }).format(new Date()));
}

/** An area in m², shown in m² below one hectare and in km² above. */
export function area(m2: unknown): string {
  if (typeof m2 !== 'number') return '—';
  if (m2 < 10_000) return `${num(m2)} m²`;
  return `${num(m2 / 1_000_000, 3)} km²`;
}

document.documentElement.lang = current;
