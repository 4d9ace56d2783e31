"""Benchmark of lumin.optimisation.features.rf_rank_features; writes bench/_out/features.md.

The issue's workload: 5e4 training and 5e4 validation events × 20 features (6 informative of decreasing strength, 14
noise), `n_estimators=40, n_rfs=1`, everything else at its default (the forests tuned by `get_opt_rf_params`, then
retrained on the important features). Measured, in one run and alternating:
1. lumin's `rf_rank_features`: wall and CPU time (best and median of 3), and the time of its parts;
2. the original LUMIN 0.9.1 (rfpimp) on the same data, if its virtual environment `../peer-venv` exists (PEER.md);
3. whether the rankings agree: lumin's, the peer's, and lumin's with full-size trees (`max_samples=None`), on the six
   informative features;
4. lumin's ranking on N_SEEDS independent samples of the same workload: how often f0 … f5 come first, in the true order,
   with no noise feature above f5, and the wall and CPU time of each run.
Run: .venv/bin/python bench/bench_features.py
"""
import contextlib, io, os, platform, subprocess, sys, tempfile, time, warnings
from pathlib import Path

from _report import write_report
import numpy as np
import pandas as pd
import sklearn
from lumin.optimisation import hyper_param
from lumin.optimisation.features import rf_rank_features, get_rf_feat_importance
from lumin.optimisation.hyper_param import get_opt_rf_params, RF_SCAN_PARAMS

N_SEEDS = 5  # independent samples (training seed 2k, validation seed 2k+1) for the ranking's stability

N, N_FEATS = 50_000, 20
COEFS = [1.5, 1.0, 0.7, 0.5, 0.3, 0.15]  # log-odds coefficients of f0 … f5; f6 … f19 are noise
FEATS = [f'f{i}' for i in range(N_FEATS)]
PEER_PY = Path(__file__).resolve().parents[2]/'peer-venv'/'bin'/'python'

def make(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATS))
    logit = x[:, :len(COEFS)] @ np.array(COEFS)
    df = pd.DataFrame(x, columns=FEATS)
    df['gen_target'] = (rng.uniform(size=n) < 1/(1 + np.exp(-logit))).astype(int)
    df['gen_weight'] = rng.uniform(0.5, 1.5, n)
    return df

PEER_SCRIPT = '''
import sys, time, warnings
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd
from lumin.optimisation.features import rf_rank_features
def load(path):
    arrs = np.load(path)
    df = pd.DataFrame(arrs['x'], columns=[f'f{i}' for i in range(arrs['x'].shape[1])])
    df['gen_target'], df['gen_weight'] = arrs['y'], arrs['w']
    return df
trn, val = load(sys.argv[1]), load(sys.argv[2])
feats = [c for c in trn.columns if c.startswith('f')]
t0, c0 = time.perf_counter(), time.process_time()
ranked = rf_rank_features(trn, val, 'classification', feats, wgt_name='gen_weight', n_estimators=40, n_rfs=1, plot_results=False, verbose=False)
print('RESULT', time.perf_counter() - t0, time.process_time() - c0, ','.join(ranked))
'''

def run_lumin(trn, val, **kw):
    "The issue's call, with its defaults: verbose, so the forests are also retrained on the kept features for the printed comparison"
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        ranked = rf_rank_features(trn, val, 'classification', FEATS, wgt_name='gen_weight', n_estimators=40, n_rfs=1,
                                  plot_results=False, **kw)
    return time.perf_counter() - t0, time.process_time() - c0, ranked

def run_peer(trn_path, val_path):
    if not PEER_PY.exists(): return None
    env = {**os.environ, 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    with tempfile.NamedTemporaryFile('w', suffix='.py', delete=False) as f: f.write(PEER_SCRIPT)
    try:
        out = subprocess.run([str(PEER_PY), f.name, str(trn_path), str(val_path)], capture_output=True, text=True, timeout=1200, env=env)
    finally: os.unlink(f.name)
    line = next((l for l in out.stdout.splitlines() if l.startswith('RESULT')), None)
    if line is None: return f'failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output"}'
    _, wall, cpu, ranked = line.split(' ', 3)
    return float(wall), float(cpu), ranked.split(',')

def parts(trn, val):
    "Time (wall, CPU) of each part of one rf_rank_features run, called directly"
    x_trn, y_trn, w_trn = trn[FEATS].to_numpy(np.float32), trn.gen_target.to_numpy(), trn.gen_weight.to_numpy()
    x_val, y_val, w_val = val[FEATS].to_numpy(np.float32), val.gen_target.to_numpy(), val.gen_weight.to_numpy()
    out, t0, c0 = {}, time.perf_counter(), time.process_time()
    def lap(name):
        nonlocal t0, c0
        out[name] = (time.perf_counter() - t0, time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
    params, rf = get_opt_rf_params(x_trn, y_trn, x_val, y_val, 'classification', w_trn, w_val, n_estimators=40, verbose=False)
    lap('parameter scan (all features)')
    imp = get_rf_feat_importance(rf, val[FEATS], y_val, w_val)
    lap('permutation importance')
    cols = [FEATS.index(f) for f in imp.Feature[imp.Importance > 0]]
    grid = {k: list(v) if k == 'max_features' else [params[k]] for k, v in RF_SCAN_PARAMS.items()}
    get_opt_rf_params(x_trn[:, cols], y_trn, x_val[:, cols], y_val, 'classification', w_trn, w_val, params=grid, n_estimators=40, verbose=False)
    lap(f'rescan on the {len(cols)} kept features')
    return out, params

def placement(ranked):
    "Positions of the informative features (None: not kept), and the number of noise features above the last one kept"
    inform = FEATS[:len(COEFS)]
    pos = [ranked.index(f) if f in ranked else None for f in inform]
    last = max(p for p in pos if p is not None)
    return pos, sum(f not in inform for f in ranked[:last])

def main():
    warnings.filterwarnings('ignore')
    load0 = os.getloadavg()[0]
    trn, val = make(N, 0), make(N, 1)
    lines = ['# Feature-selection benchmark', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}, numpy {np.__version__}, '
             f'pandas {pd.__version__}, scikit-learn {sklearn.__version__}. 1-min load average at start {load0:.1f} (a shared '
             'machine: wall times swing with the load; CPU times, summed over threads, less so).', '',
             f'Data: {N:.0e} training and {N:.0e} validation events × {N_FEATS} features; `f0`…`f5` informative with log-odds '
             f'coefficients {COEFS}, the rest noise; weights uniform in [0.5, 1.5]. `rf_rank_features(..., wgt_name="gen_weight", '
             'n_estimators=40, n_rfs=1, plot_results=False)`, defaults otherwise (verbose, its printout discarded: forests tuned, '
             'then retuned and retrained on the important features for the printed comparison).', '']
    with tempfile.TemporaryDirectory() as tmp:
        trn_path, val_path = Path(tmp)/'trn.npz', Path(tmp)/'val.npz'
        for df, path in ((trn, trn_path), (val, val_path)):  # plain arrays: the peer's numpy < 2 cannot read numpy 2 pickles
            np.savez(path, x=df[FEATS].to_numpy(), y=df.gen_target.to_numpy(), w=df.gen_weight.to_numpy())
        runs, peer = [], None
        runs.append(run_lumin(trn, val)); print('lumin', runs[-1][:2], flush=True)
        peer = run_peer(trn_path, val_path); print('peer', peer if not isinstance(peer, tuple) else peer[:2], flush=True)
        for _ in range(2): runs.append(run_lumin(trn, val)); print('lumin', runs[-1][:2], flush=True)
    full = run_lumin(trn, val, rf_params={**RF_SCAN_PARAMS, 'max_samples': [None]}); print('full-size trees', full[:2], flush=True)
    times, params = parts(trn, val)
    seeds = [(0, runs[0])]
    for k in range(1, N_SEEDS):
        seeds.append((k, run_lumin(make(N, 2*k), make(N, 2*k + 1)))); print('seed', k, seeds[-1][:2], flush=True)
    walls, cpus = np.array([r[0] for r in runs]), np.array([r[1] for r in runs])
    lines += ['## `rf_rank_features` time', '',
              '| implementation | wall best (s) | wall median (s) | CPU median (s) | runs |', '|---|---:|---:|---:|---:|',
              f'| lumin (trees of ≤ {hyper_param.RF_TREE_EVENTS} events) | {walls.min():.1f} | {np.median(walls):.1f} | {np.median(cpus):.1f} | {len(runs)} |',
              f'| lumin, full-size trees (`max_samples=None` in the scan) | {full[0]:.1f} | – | {full[1]:.1f} | 1 |']
    if isinstance(peer, tuple):
        lines.append(f'| LUMIN 0.9.1 (rfpimp) | {peer[0]:.1f} | – | {peer[1]:.1f} | 1 |')
        lines += ['', f'Ratio LUMIN 0.9.1 / lumin (median wall of lumin, same run): {peer[0]/np.median(walls):.1f}×.']
    else: lines += ['', f'LUMIN 0.9.1 not measured: {peer or "no ../peer-venv"}.']
    lines += ['', 'Parts of one lumin run, called directly (wall / CPU): ' +
              ', '.join(f'{k} {w:.1f} / {c:.1f} s' for k, (w, c) in times.items()) + f'; the scan chose {params}.', '']
    inform = FEATS[:len(COEFS)]
    rows = [('lumin', runs[0][2]), ('lumin, full-size trees', full[2])] + ([('LUMIN 0.9.1', peer[2])] if isinstance(peer, tuple) else [])
    lines += ['## Rankings', '', 'Where each ranking puts the informative features f0 … f5 (0 = first; – = importance ≤ 0, not kept), and '
              'how many noise features it ranks above the last informative one it keeps.', '',
              '| ranking | positions of ' + ' '.join(inform) + ' | noise features ranked above an informative one | kept |', '|---|---|---:|---:|']
    for name, ranked in rows:
        pos, n_noise = placement(ranked)
        lines.append(f'| {name} | {" ".join("–" if p is None else str(p) for p in pos)} | {n_noise} | {len(ranked)} |')
    lines += ['', f'lumin on {N_SEEDS} independent samples of the workload (sample 0 is the one above):', '',
              '| sample | positions of ' + ' '.join(inform) + ' | noise features above an informative one | kept | wall (s) | CPU (s) |',
              '|---:|---|---:|---:|---:|---:|']
    n_ok = 0
    for k, (wall, cpu, ranked) in seeds:
        pos, n_noise = placement(ranked)
        n_ok += ranked[:len(inform)] == inform
        lines.append(f'| {k} | {" ".join("–" if p is None else str(p) for p in pos)} | {n_noise} | {len(ranked)} | {wall:.1f} | {cpu:.1f} |')
    lines += ['', f'f0 … f5 ranked first, in the true order, with no noise feature above f5: {n_ok} of {N_SEEDS} samples. '
              f'f5 has a log-odds coefficient of {COEFS[-1]}.', '']
    write_report('features.md', '\n'.join(lines))

if __name__ == '__main__': main()
