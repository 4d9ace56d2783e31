"""Import time of the training entry point, over and above importing torch.

`python -c "import lumin.nn.training.train"` minus `python -c "import torch"`, each in fresh processes, alternated
(A/B/A/B...), median of N_RUNS each. Goal: at most 0.5 s. The heaviest imports (from `python -X importtime`) are listed
to show what dominates: every module's cumulative time, keeping only those not nested in a heavier listed one.

Run from the repository root: `.venv/bin/python bench/bench_import.py` (or `make bench`).
Writes a markdown report to bench/_out/import.md (temporary file, then os.replace).
"""
import os, platform, re, statistics, subprocess, sys, tempfile, time
from pathlib import Path

from _report import write_report

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'bench'/'_out'/'import.md'
TARGET = 'lumin.nn.training.train'
N_RUNS, GOAL, N_TOP = 9, 0.5, 20
# third-party modules that lumin's training path imports at module level, costed one by one on top of torch
THIRD_PARTY = ['numpy', 'pandas', 'h5py', 'fastcore.basics', 'sklearn.base', 'sklearn.model_selection', 'sklearn.pipeline',
               'scipy.stats', 'matplotlib.figure', 'uproot']
N_RUNS_PKG = 5


def time_import(module: str) -> float:
    "Wall time (s) of a fresh interpreter importing `module` (a comma-separated list works too)."
    t = time.perf_counter()
    subprocess.run([sys.executable, '-c', f'import {module}'], check=True, cwd=ROOT, env={**os.environ, 'MPLBACKEND': 'Agg'})
    return time.perf_counter() - t


def marginal_costs() -> list:
    "(module, median extra seconds of `import torch, module` over `import torch`), alternated runs."
    out = []
    for mod in THIRD_PARTY:
        base, both = [], []
        for _ in range(N_RUNS_PKG):
            base.append(time_import('torch'))
            both.append(time_import(f'torch, {mod}'))
        out.append((mod, statistics.median(both) - statistics.median(base)))
    return out


def importers(module: str) -> dict:
    "lumin files imported by `module` that import each THIRD_PARTY package at module level (text search of import lines)."
    mods = {r[3] for r in importtime(module) if r[3].startswith('lumin')}
    found = {m: [] for m in THIRD_PARTY}
    for path in sorted((ROOT/'lumin').rglob('*.py')):
        name = '.'.join(path.relative_to(ROOT).with_suffix('').parts).removesuffix('.__init__')
        if name not in mods: continue
        for line in path.read_text().splitlines():
            if not line.startswith(('import ', 'from ')): continue
            for m in THIRD_PARTY:
                top = m.split('.')[0]
                sub = re.escape(m) if '.' in m else re.escape(top)
                if re.match(rf'from {sub}(\.| )', line) or re.match(rf'import (.*[ ,])?{sub}(\.|,| |$)', line):
                    rel = str(path.relative_to(ROOT))
                    if rel not in found[m]: found[m].append(rel)
    return found


def importtime(module: str) -> list:
    "(self µs, cumulative µs, depth, name) for every module imported, from `python -X importtime`."
    res = subprocess.run([sys.executable, '-X', 'importtime', '-c', f'import {module}'], check=True, cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, 'MPLBACKEND': 'Agg'})
    rows = []
    for line in res.stderr.splitlines():
        m = re.match(r'import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)', line)
        if m: rows.append((int(m[1]), int(m[2]), len(m[3])//2, m[4]))
    return rows


def heavy_imports(module: str, baseline: str = 'torch') -> list:
    "The heaviest imports of `module` that `baseline` does not already pull in, by cumulative time (ms)."
    base = {r[3] for r in importtime(baseline)}
    rows = [r for r in importtime(module) if r[3] not in base]
    # keep top-level entries of the import tree first (lowest depth), then sort by cumulative time
    rows.sort(key=lambda r: -r[1])
    return [(name, cum/1e3, own/1e3, depth) for own, cum, depth, name in rows[:N_TOP]]


def lumin_self_times(module: str) -> list:
    "Own import time (ms) of each lumin module: the code our package runs at import."
    rows = [r for r in importtime(module) if r[3].startswith('lumin')]
    rows.sort(key=lambda r: -r[0])
    return [(name, own/1e3, cum/1e3) for own, cum, _, name in rows[:10]]


def main() -> None:
    load0 = os.getloadavg()[0]
    time_import('torch'); time_import(TARGET)  # warm the file-system cache
    t_torch, t_target = [], []
    for _ in range(N_RUNS):  # alternate, so drifts in machine load hit both sides alike
        t_torch.append(time_import('torch'))
        t_target.append(time_import(TARGET))
    med_torch, med_target = statistics.median(t_torch), statistics.median(t_target)
    diff = med_target - med_torch
    diffs = sorted(b - a for a, b in zip(t_torch, t_target))
    ok = diff <= GOAL
    import torch
    lines = ['# Import time of `lumin.nn.training.train`', '',
             f'{platform.python_implementation()} {platform.python_version()}, torch {torch.__version__}, '
             f'{os.cpu_count()} CPUs; {N_RUNS} fresh processes each, alternated; medians. Load average (1 min) '
             f'{load0:.2f} at the start.', '',
             '| command | median (s) | min (s) | max (s) |', '|---|---:|---:|---:|',
             f'| `python -c "import torch"` | {med_torch:.3f} | {min(t_torch):.3f} | {max(t_torch):.3f} |',
             f'| `python -c "import {TARGET}"` | {med_target:.3f} | {min(t_target):.3f} | {max(t_target):.3f} |', '',
             f'**lumin on top of torch: {diff:.3f} s** (median of the difference of the medians; per-pair differences '
             f'{diffs[0]:.3f}–{diffs[-1]:.3f} s). Goal ≤ {GOAL} s: **{"met" if ok else "NOT met"}**.', '',
             '## Heaviest imports not already pulled in by `import torch`', '',
             'From `python -X importtime` (one run; cumulative includes the module\'s own imports; depth 1 = imported '
             'directly by the first lumin module).', '',
             '| module | cumulative (ms) | self (ms) | depth |', '|---|---:|---:|---:|']
    lines += [f'| `{n}` | {c:.1f} | {s:.1f} | {d} |' for n, c, s, d in heavy_imports(TARGET)]
    costs, who = marginal_costs(), importers(TARGET)
    lines += ['', '## Cost of each third-party import on top of torch', '',
              f'`python -c "import torch, X"` minus `python -c "import torch"`, median of {N_RUNS_PKG} alternated runs each '
              '(packages share dependencies, so the costs overlap and do not add up).', '',
              '| module | extra (s) | imported at module level by |', '|---|---:|---|']
    lines += [f'| `{m}` | {c:.3f} | {", ".join(f"`{p}`" for p in who[m]) or "—"} |' for m, c in costs]
    lines += ['', '## lumin modules by their own import time', '', '| module | self (ms) | cumulative (ms) |', '|---|---:|---:|']
    lines += [f'| `{n}` | {s:.1f} | {c:.1f} |' for n, s, c in lumin_self_times(TARGET)]
    text = '\n'.join(lines) + '\n'
    write_report(OUT.name, text)


if __name__ == '__main__':
    main()
