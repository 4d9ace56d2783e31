"""Permutation importance of a 5-member ensemble on 1e5 events x 20 features: lumin next to LUMIN 0.9.1.

Run from the repository root: `.venv/bin/python bench/bench_importance.py` (or `make bench`).
The peer runs in ../peer-venv (see ../shared/PEER.md) when it exists. Writes bench/_out/importance.md.
"""
import json, os, platform, subprocess, sys, tempfile, time
from functools import partial
from pathlib import Path

from _report import write_report

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lumin.data_processing.file_proc import df2foldfile
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble
from lumin.nn.interpretation.features import get_ensemble_feat_importance

N_EVENTS, N_FEATS, N_FOLDS, N_MODELS, BS, N_REPEATS, FLOOR_BS = 100_000, 20, 10, 5, 65536, 3, 16384
BODIES = ((3, 100), (2, 32))  # (depth, width) of the FullyConnected members
PEER_PY = ROOT.parent/'peer-venv'/'bin'/'python'

PEER_SCRIPT = r'''
import json, sys, time, warnings
warnings.simplefilter('ignore')
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from lumin.data_processing.file_proc import df2foldfile
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble
from lumin.nn.interpretation.features import get_ensemble_feat_importance
n, nf, n_folds, n_models, bs, depth, width, reps, path = sys.argv[1:]
arrs = np.load(path)
feats = [f'x{i}' for i in range(arrs['x'].shape[1])]
df = pd.DataFrame(arrs['x'], columns=feats)
df['gen_target'], df['gen_weight'] = arrs['t'], arrs['w']
df2foldfile(df, n_folds=int(n_folds), cont_feats=feats, cat_feats=[], targ_feats='gen_target', wgt_feat='gen_weight',
            savename=path + '_peer', targ_type='int')
fy = FoldYielder(path + '_peer.hdf5')
mb = ModelBuilder('classification', n_out=1, cont_feats=feats, model_args={'body': {'width': int(width), 'depth': int(depth)}})
torch.manual_seed(0)
ens = Ensemble.from_models([Model(mb) for _ in range(int(n_models))])
times = []
for _ in range(int(reps)):
    t = time.perf_counter()
    get_ensemble_feat_importance(ens, fy, bs=int(bs))
    times.append(time.perf_counter() - t)
print('PEER_TIMES', json.dumps(times))
'''


def make_df(seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(N_EVENTS, N_FEATS)).astype(np.float32), columns=[f'x{i}' for i in range(N_FEATS)])
    df['gen_target'] = (df.x0 + 0.5*df.x1 + 0.3*rng.normal(size=N_EVENTS) > 0).astype(int)
    df['gen_weight'] = rng.uniform(0.5, 1.5, N_EVENTS)
    return df


def peer_times(df_path, depth, width):
    "Timed runs of LUMIN 0.9.1's get_ensemble_feat_importance in its own venv, or None if the peer is not installed."
    if not PEER_PY.exists(): return None
    env = {**os.environ, 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    out = subprocess.run([str(PEER_PY), '-c', PEER_SCRIPT, str(N_EVENTS), str(N_FEATS), str(N_FOLDS), str(N_MODELS), str(BS),
                          str(depth), str(width), '1', str(df_path)], capture_output=True, text=True, env=env, cwd=Path(df_path).parent)
    line = [l for l in out.stdout.splitlines() if l.startswith('PEER_TIMES')]
    if not line: raise RuntimeError(f'peer run failed:\n{out.stderr[-3000:]}')
    return json.loads(line[0].split(' ', 1)[1])


def timed(f):
    "(wall, CPU) seconds of `f()`; the CPU time counts every thread of this process."
    t, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t, time.process_time() - c


def bare_floor(ens, n_passes):
    "(wall, CPU) time of `n_passes` bare inference-mode torch forward passes of every member over all events, in cache-sized batches."
    x = torch.randn(N_EVENTS, N_FEATS)
    def run():
        with torch.inference_mode():
            for _ in range(n_passes):
                for _, m in ens:
                    for s in range(0, N_EVENTS, FLOOR_BS): m.model(x[s:s+FLOOR_BS])
    return timed(run)


CONFIGS = (('auto', 1), ('torch', 1), ('auto', 2), ('torch', 2))  # (backend, threads) of lumin's importance


def main():
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        df = make_df()
        df_path = Path(tmp)/'events.npz'
        np.savez(df_path, x=df[[f'x{i}' for i in range(N_FEATS)]].to_numpy(), t=df['gen_target'].to_numpy(), w=df['gen_weight'].to_numpy())
        df2foldfile(df, N_FOLDS, cont_feats=[f'x{i}' for i in range(N_FEATS)], cat_feats=[], targ_feats='gen_target',
                    wgt_feat='gen_weight', savename=Path(tmp)/'lumin', targ_type='int', seed=0, verbose=False)
        fy = FoldYielder(Path(tmp)/'lumin.hdf5')
        for depth, width in BODIES:
            mb = ModelBuilder('classification', 1, cont_feats=fy.cont_feats, body=partial(FullyConnected, depth=depth, width=width))
            torch.manual_seed(0)
            ens = Ensemble.from_models([Model(mb) for _ in range(N_MODELS)])
            imp = lambda backend, n: get_ensemble_feat_importance(ens, fy, bs=BS, plot=False, verbose=False, seed=0,
                                                                   backend=backend, n_threads=n)
            ref = imp('torch', 1)
            diff = max(float((imp(*c).set_index('Feature') - ref.set_index('Feature')).abs().to_numpy().max())
                       for c in CONFIGS)  # warm-up, and the same importances from every configuration
            ours, peers, floors = {c: [] for c in CONFIGS}, [], []
            for _ in range(N_REPEATS):  # alternate lumin, compute floor and peer, so that load changes hit all of them
                for c in CONFIGS: ours[c].append(timed(lambda: imp(*c)))
                floors.append(bare_floor(ens, N_FEATS + 1))
                peer = peer_times(df_path, depth, width)
                if peer is not None: peers.append(min(peer))
            best = {c: min(v) for c, v in ours.items()}  # fastest wall time (with its CPU time)
            ratios = [p/o[0] for p, o in zip(peers, ours[('auto', 1)])]
            rows.append((depth, width, best, min(floors), min(peers) if peers else None,
                         float(np.median(ratios)) if ratios else None, diff))
    load = os.getloadavg()[0]
    lines = ['## Feature importance (bench/bench_importance.py)', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, '
             f'1-min load average at the end {load:.1f} (a shared machine). '
             f'`get_ensemble_feat_importance` of an ensemble of {N_MODELS} untrained FullyConnected classifiers on a fold file of '
             f'{N_EVENTS:.0e} events x {N_FEATS} features in {N_FOLDS} folds, bs {BS}; every feature of every fold is permuted '
             f'once (the same work and statistical accuracy on both sides). {N_REPEATS} alternating (lumin, floor, peer) rounds; '
             f'fastest of each, and the median of the per-round ratios. The compute floor is {N_FEATS + 1} bare inference-mode '
             f'forward passes of every member over all events (nominal + one per feature) in batches of {FLOOR_BS}.', '',
             f'Configurations: backend (`auto` = onnxruntime when installed, else torch) and CPU threads; wall time of the '
             f'fastest round with its CPU time (all threads), the 0.9.1 column at 1 thread. The importances of every '
             f'configuration agree with torch at 1 thread to the largest |difference| shown.', '',
             '| members | ' + ' | '.join(f'lumin {b}, {n} thr: wall / CPU (s)' for b, n in CONFIGS) +
             ' | LUMIN 0.9.1 (s) | 0.9.1 / lumin auto 1 thr (median) | floor, torch 1 thr: wall / CPU (s) | max abs diff |',
             '|---|' + '---:|'*(len(CONFIGS) + 4)]
    for depth, width, best, floor, peer, ratio, diff in rows:
        peer_s, ratio_s = ('n/a', 'n/a') if peer is None else (f'{peer:.2f}', f'{ratio:.2f}')
        cells = ' | '.join(f'{best[c][0]:.2f} / {best[c][1]:.2f}' for c in CONFIGS)
        lines.append(f'| {N_MODELS} x FC({depth}x{width}) | {cells} | {peer_s} | {ratio_s} | {floor[0]:.2f} / {floor[1]:.2f} | {diff:.1e} |')
    write_report('importance.md', '\n'.join(lines))


if __name__ == '__main__': main()
