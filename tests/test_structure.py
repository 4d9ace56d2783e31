"""The notebook layout the design card fixes: the chapter openers exist, and a notebook imports only from lower-numbered ones.

Run on its own with `pytest tests/test_structure.py -q`; it prints every offending import."""
import ast, json, re
from pathlib import Path

NBS = Path(__file__).resolve().parents[1]/'nbs'
CHAPTERS = ['00_fold_file', '10_hep_proc', '20_blocks', '30_callbacks', '40_train', '50_ensemble', '60_plotting', '70_optimisation']
_KEY = re.compile(r'^(\d+)([a-z]*)_')
_IMPORT = re.compile(r'^\s*(?:from\s+(lumin(?:\.\w+)*)\s+import|import\s+(lumin(?:\.\w+)*))', re.M)
_EXPORT_TO = re.compile(r'^#\|\s*export[si]?\s+([\w.]+)\s*$', re.M)
_DEFAULT_EXP = re.compile(r'^#\|\s*default_exp\s+([\w.]+)', re.M)

def nb_key(path: Path):
    "Sort key of a numbered notebook: `02a_misc` -> (2, 'a')."
    m = _KEY.match(path.name)
    if m is None: raise ValueError(f'notebook {path.name} has no number prefix such as 02_ or 02a_')
    return int(m.group(1)), m.group(2)

def _code(path):
    return [''.join(c['source']) for c in json.loads(path.read_text())['cells'] if c['cell_type'] == 'code']

def notebooks(): return sorted(NBS.glob('[0-9]*.ipynb'), key=nb_key)

def module_owners():
    "Map each exported module (`lumin.a.b`) to the notebook that writes it."
    owners = {}
    for nb in notebooks():
        for src in _code(nb):
            for m in _DEFAULT_EXP.findall(src) + _EXPORT_TO.findall(src): owners.setdefault('lumin.' + m.removesuffix('.__init__'), nb)
    return owners

def _imported_modules(src: str, owners):
    "The lumin modules a cell imports: `from lumin.a import b` names `lumin.a.b` when that is a module, else `lumin.a`."
    lines = [l for l in src.split('\n') if not l.lstrip().startswith(('%', '!'))]
    try: tree = ast.parse('\n'.join(lines))
    except SyntaxError: return set(m for a, b in _IMPORT.findall(src) for m in [a or b])
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import): mods |= {a.name for a in node.names if a.name.startswith('lumin')}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('lumin'):
            for a in node.names:
                sub = f'{node.module}.{a.name}'
                mods.add(sub if any(m == sub or m.startswith(sub + '.') for m in owners) else node.module)
    return mods

def backward_imports():
    "Every (notebook, module, owner) where a notebook imports a module written by a notebook not below it."
    owners, bad = module_owners(), []
    for nb in notebooks():
        for src in _code(nb):
            for mod in _imported_modules(src, owners):
                if mod == 'lumin': continue  # the package itself (its version), written by no notebook
                for m in ([mod] if mod in owners else [m for m in owners if m.startswith(mod + '.')]):
                    own = owners[m]
                    if own != nb and nb_key(own) >= nb_key(nb): bad.append((nb.stem, m, own.stem))
    return sorted(set(bad))

def test_chapter_openers():
    names = {p.stem for p in notebooks()}
    missing = [c for c in CHAPTERS if c not in names]
    assert not missing, f'chapter notebooks missing: {missing}'
    for c in CHAPTERS:
        decade = [p.stem for p in notebooks() if nb_key(p)[0] // 10 == int(c[:2]) // 10]
        assert decade[0] == c, f'{c} must open its chapter, but {decade[0]} sorts before it'

def test_imports_only_from_lower_numbers():
    bad = backward_imports()
    assert not bad, 'notebooks importing from a notebook at or above their own number:\n' + '\n'.join(f'  {n} imports {m} (written by {o})' for n, m, o in bad)

if __name__ == '__main__':
    for n, m, o in backward_imports(): print(f'{n} imports {m} (written by {o})')

def unpinned_error_tests():
    "Every `test_fail`/`expect_fail` call that accepts any exception type, and every bare `test_warns` (no message check)."
    bad = []
    for nb in sorted(NBS.glob('**/*.ipynb')):
        for src in _code(nb):
            try: tree = ast.parse('\n'.join(l for l in src.split('\n') if not l.lstrip().startswith(('%', '!'))))
            except SyntaxError: continue
            for n in ast.walk(tree):
                if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)): continue
                kws = {k.arg for k in n.keywords}
                if n.func.id == 'test_fail' and 'exc' not in kws and len(n.args) < 4: bad.append((nb.stem, n.lineno, 'test_fail without exc='))
                if n.func.id == 'expect_fail' and 'exc' not in kws and not n.args: bad.append((nb.stem, n.lineno, 'expect_fail without a type'))
                if n.func.id == 'test_warns': bad.append((nb.stem, n.lineno, 'test_warns checks no message'))
    return bad

def test_error_tests_pin_their_type():
    bad = unpinned_error_tests()
    assert not bad, 'error tests that accept any exception (or warnings without a message check):\n' + '\n'.join(f'  {n} line {l} of its cell: {w}' for n, l, w in bad)
