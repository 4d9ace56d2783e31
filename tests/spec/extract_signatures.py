"""Extract the public signatures from the spec documents into `signatures.json` (run by hand when the spec changes).

    python tests/spec/extract_signatures.py ../shared/spec

The spec text was extracted from rendered documentation: names are split over lines, words hyphenated at line ends,
and defaults rendered as `<function lookup_act>` or `<lumin.plotting.plot_settings.PlotSettings object>`. This script
undoes that and stores, for each `lumin.…` callable, its parameters in order with their defaults as source text."""
import ast, json, re, sys
from pathlib import Path

def _norm(t):
    t = t.replace('¶', ' ').replace('[source]', ' ').replace('`', '')
    t = re.sub(r'(\w)-\*?[ \t]*\n\s*\*?(\w)', r'\1\2', t)
    t = re.sub(r'\*?(\w)-\*? +\*?(\w)', r'\1\2', t)
    t = re.sub(r'\*(\w+(?:=[^,*()]+)?)\*', r'\1', t)
    t = re.sub(r'(?<![*\w])\*(\w+=)', r'\1', t)
    return re.sub(r'(lumin(?:\.\w+)*\.)\s*\n\s*(\w+)\s*\n?\s*\(', r'\1\2(', t)

def _balanced(t, i):
    depth = 0
    for j in range(i, min(len(t), i + 3000)):
        depth += t[j] in '([{'
        depth -= t[j] in ')]}'
        if depth == 0: return t[i+1:j]

def _params(body):
    src = re.sub(r'<([^<>]*)>', lambda m: repr('<' + m.group(1) + '>'), body)
    fn = ast.parse(f'def f({src}): pass').body[0]
    a = fn.args
    pos = a.posonlyargs + a.args
    defs = [None]*(len(pos) - len(a.defaults)) + [ast.unparse(d) for d in a.defaults]
    out = [dict(name=p.arg, default=d, kind='positional') for p, d in zip(pos, defs)]
    if a.vararg: out.append(dict(name=a.vararg.arg, default=None, kind='var_positional'))
    out += [dict(name=p.arg, default=None if d is None else ast.unparse(d), kind='keyword_only') for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg: out.append(dict(name=a.kwarg.arg, default=None, kind='var_keyword'))
    return out

def extract(spec_dir):
    sigs = {}
    for f in sorted(Path(spec_dir).glob('00[0-3]_*.txt')):
        t = _norm(f.read_text())
        for m in re.finditer(r'(lumin(?:\.\w+)+)\s*\(', t):
            body = _balanced(t, m.end() - 1)
            if not body or body.strip() == 'module': continue
            try: ps = _params(' '.join(body.split()))
            except SyntaxError: continue
            if len(ps) > len(sigs.get(m.group(1), {}).get('params', [])): sigs[m.group(1)] = dict(source=f.name, params=ps)
    return dict(sorted(sigs.items()))

if __name__ == '__main__':
    sigs = extract(sys.argv[1] if len(sys.argv) > 1 else '../shared/spec')
    out = Path(__file__).parent/'signatures.json'
    out.write_text(json.dumps(sigs, indent=1) + '\n')
    print(f'{len(sigs)} signatures written to {out}')
