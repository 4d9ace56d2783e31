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

N_EVENTS, N_FEATS, N_FOLDS, N_MODELS, BS, N_REPEATS, FLOOR_BS = 100_000, 20, 10, 5, 65536, 3, 4096
BODIES = ((3, 100), (2, 32))  # (depth, width) of the FullyConnected members
PEER_PY = ROOT.parent/'peer-venv'/'bin'/'python'

PEER_SCRIPT = r'''
import json, sys, time, warnings
warnings.simplefilter('ignore')
import numpy as np, pandas as pd, torch
torch.set_num_threads(int(sys.argv[-1]))
from lumin.data_processing.file_proc import df2foldfile
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble
from lumin.nn.interpretation.features import get_ensemble_feat_importance
n, nf, n_folds, n_models, bs, depth, width, reps, path, n_threads = sys.argv[1:]
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


def peer_times(df_path, depth, width, n_threads):
    "Timed runs of LUMIN 0.9.1's get_ensemble_feat_importance in its own venv on `n_threads` threads, or None if the peer is not installed."
    if not PEER_PY.exists(): return None
    env = {**os.environ, 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': str(n_threads)}
    out = subprocess.run([str(PEER_PY), '-c', PEER_SCRIPT, str(N_EVENTS), str(N_FEATS), str(N_FOLDS), str(N_MODELS), str(BS),
                          str(depth), str(width), '1', str(df_path), str(n_threads)], capture_output=True, text=True, env=env,
                         cwd=Path(df_path).parent)
    line = [l for l in out.stdout.splitlines() if l.startswith('PEER_TIMES')]
    if not line: raise RuntimeError(f'peer run failed:\n{out.stderr[-3000:]}')
    return json.loads(line[0].split(' ', 1)[1])


def timed(f):
    "Wall seconds of `f()`."
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def floor_sessions(ens):
    "Single-threaded onnxruntime sessions of the members' networks, for `bare_floor`."
    import io, warnings
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    sessions = []
    for _, m in ens:
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(m.model.eval(), (torch.randn(3, N_FEATS),), buf, input_names=['x'], output_names=['p'], dynamo=False,
                              dynamic_axes={'x': {0: 'b'}, 'p': {0: 'b'}})
        sessions.append(ort.InferenceSession(buf.getvalue(), opts, providers=['CPUExecutionProvider']))
    return sessions


def bare_floor(sessions, n_passes, n_threads):
    """Wall time of the bare forward passes: `n_passes` over all events of every member's session, split into `n_threads`
    single-threaded streams side by side (what lumin's importance runs), in batches of FLOOR_BS."""
    from concurrent.futures import ThreadPoolExecutor
    x = np.random.default_rng(1).normal(size=(N_EVENTS*n_passes//n_threads, N_FEATS)).astype(np.float32)
    def stream(_):
        for sess in sessions:
            for s in range(0, len(x), FLOOR_BS): sess.run(None, {'x': x[s:s+FLOOR_BS]})
    with ThreadPoolExecutor(n_threads) as pool:
        t = time.perf_counter()
        list(pool.map(stream, range(n_threads)))
        return time.perf_counter() - t


def gemm_rate(n_threads, m=4096, k=100, n=100, reps=200):
    "GFLOP/s of torch's float32 (m×k)·(k×n) product on `n_threads` threads: the 100-wide layers of the members."
    old = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(10): a @ b
    t = time.perf_counter()
    for _ in range(reps): a @ b
    rate = 2*m*k*n*reps/(time.perf_counter() - t)/1e9
    torch.set_num_threads(old)
    return rate


CONFIGS = (('auto', 2), ('auto', 1), ('torch', 2), ('torch', 1))  # (backend, threads) of lumin's importance; the first is the default here
PEER_THREADS = (1, 2)


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
            ours, floors, peers = {c: [] for c in CONFIGS}, [], {n: [] for n in PEER_THREADS}
            sessions = floor_sessions(ens)
            for _ in range(N_REPEATS):  # alternate lumin, compute floor and peer, so that load changes hit all of them
                for c in CONFIGS: ours[c].append(timed(lambda: imp(*c)))
                floors.append(bare_floor(sessions, N_FEATS + 1, 2))
                for n in PEER_THREADS:
                    peer = peer_times(df_path, depth, width, n)
                    if peer is not None: peers[n].append(min(peer))
            ratios = [p/o for p, o in zip(peers[2], ours[CONFIGS[0]])]
            rows.append((depth, width, {c: min(v) for c, v in ours.items()}, min(floors),
                         {n: min(v) if v else None for n, v in peers.items()}, float(np.median(ratios)) if ratios else None, diff))
        rates = {n: gemm_rate(n) for n in (1, 2)}
    load = os.getloadavg()[0]
    flop = {(d, w): 2*N_MODELS*(N_FEATS + 1)*N_EVENTS*(N_FEATS*w + (d - 1)*w*w + w) for d, w in BODIES}
    lines = ['## Feature importance (bench/bench_importance.py)', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, '
             f'1-min load average at the end {load:.1f}. '
             f'`get_ensemble_feat_importance` of an ensemble of {N_MODELS} untrained FullyConnected classifiers on a fold file of '
             f'{N_EVENTS:.0e} events x {N_FEATS} features in {N_FOLDS} folds, bs {BS}; every feature of every fold is permuted '
             f'once (the same work and statistical accuracy on both sides). {N_REPEATS} alternating (lumin, floor, peer) rounds; '
             f'fastest wall time of each, and the median of the per-round ratios.', '',
             f'Columns: lumin by backend (`auto` = onnxruntime when installed, for flat inputs on one thread per fold) and '
             f'`n_threads`; LUMIN 0.9.1 on 1 and 2 threads; the floor, {N_FEATS + 1} bare forward passes (nominal + one per '
             f'feature) of every member over all events as onnxruntime graphs, in two single-threaded streams side by side, '
             f'batches of {FLOOR_BS}; the floating-point operations of those passes; and the largest |difference| of any configuration\'s '
             f'importances from torch on one thread.', '',
             '| members | ' + ' | '.join(f'lumin {b}, {n} thr (s)' for b, n in CONFIGS) +
             ' | 0.9.1, 1 thr (s) | 0.9.1, 2 thr (s) | 0.9.1 2 thr / lumin auto 2 thr (median) | floor (s) | GFLOP | max abs diff |',
             '|---|' + '---:|'*(len(CONFIGS) + 6)]
    for depth, width, best, floor, peer, ratio, diff in rows:
        cells = ' | '.join(f'{best[c]:.2f}' for c in CONFIGS)
        peer_s = ' | '.join('n/a' if peer[n] is None else f'{peer[n]:.2f}' for n in PEER_THREADS)
        lines.append(f'| {N_MODELS} x FC({depth}x{width}) | {cells} | {peer_s} | {"n/a" if ratio is None else f"{ratio:.2f}"} | '
                     f'{floor:.2f} | {flop[(depth, width)]/1e9:.0f} | {diff:.1e} |')
    lines += ['', f'torch float32 (4096×100)·(100×100) products, the members\' 100-wide layers: {rates[1]:.0f} GFLOP/s on 1 '
              f'thread, {rates[2]:.0f} GFLOP/s on 2.']
    write_report('importance.md', '\n'.join(lines))


if __name__ == '__main__': main()
