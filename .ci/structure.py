#!/usr/bin/env python3
"""The structure figures of issue 13, measured from the repository: Rust source files over
1,000 lines, functions over 120 lines (outside tests and the demo generator's data tables),
and import cycles between the modules of src/ (a `use crate::a::b` in module x is an edge
x -> a::b). Run from the repository's root: `python3 .ci/structure.py`. Exits 1 when a
limit is crossed and `--check` is given."""
import re, sys, pathlib, itertools

ROOT = pathlib.Path('src')
MAX_FILE, MAX_FN = 1000, 120
# Files or folders left out of the function count: tests, and the demo's data tables.
EXEMPT = ('tests.rs', '/tests/', 'demo/names.rs')

fn_re = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)')

def module_of(path):
    rel = path.relative_to(ROOT).with_suffix('')
    parts = list(rel.parts)
    if parts[-1] in ('mod', 'lib', 'main'):
        parts = parts[:-1]
    return '::'.join(parts)

def long_functions(path, lines):
    out = []
    in_test = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r'\s*#\[cfg\(test\)\]', line):
            # Everything after a test module's attribute to the end of that module is a test.
            in_test = True
        m = fn_re.match(line)
        if m and not in_test:
            depth, started, j = 0, False, i
            while j < len(lines):
                code = re.sub(r'//.*', '', lines[j])
                code = re.sub(r'"([^"\\]|\\.)*"', '""', code)
                depth += code.count('{') - code.count('}')
                if '{' in code:
                    started = True
                if started and depth <= 0:
                    break
                if not started and code.rstrip().endswith(';'):
                    break
                j += 1
            n = j - i + 1
            if started and n > MAX_FN:
                out.append((n, f'{path}:{i + 1} fn {m.group(6)}'))
            i = j + 1 if started else i + 1
            continue
        i += 1
    return out

files, fns, edges = [], [], {}
for p in sorted(ROOT.rglob('*.rs')):
    text = p.read_text()
    lines = text.split('\n')
    if len(lines) - 1 > MAX_FILE:
        files.append((len(lines) - 1, str(p)))
    if not any(e in str(p) for e in EXEMPT):
        fns += long_functions(p, lines)
    me = module_of(p)
    body = text.split('#[cfg(test)]')[0]
    for m in re.finditer(r'\b(?:crate|super)::((?:\w+::)*\w+)', body):
        target = m.group(1)
        if m.group(0).startswith('super::'):
            base = me.split('::')[:-1]
            target = '::'.join(base + [target])
        edges.setdefault(me, set()).add(target)

mods = {module_of(p) for p in ROOT.rglob('*.rs')}
def resolve(t):
    parts = t.split('::')
    for k in range(len(parts), 0, -1):
        cand = '::'.join(parts[:k])
        if cand in mods:
            return cand
    return None
graph = {m: {r for t in ts if (r := resolve(t)) and r != m} for m, ts in edges.items()}
def inside(a, b):
    return a == b or a.startswith(b + '::') or b.startswith(a + '::')
cycles = sorted({tuple(sorted((a, b))) for a, bs in graph.items() for b in bs
                 if a in graph.get(b, set()) and not inside(a, b)})

print(f'files over {MAX_FILE} lines: {len(files)}')
for n, f in sorted(files, reverse=True):
    print(f'  {n:5} {f}')
print(f'functions over {MAX_FN} lines (tests and demo tables left out): {len(fns)}')
for n, f in sorted(fns, reverse=True):
    print(f'  {n:5} {f}')
print(f'import cycles between two modules: {len(cycles)}')
for a, b in cycles:
    print(f'  {a} <-> {b}')
if '--check' in sys.argv and (files or fns or cycles):
    sys.exit(1)
