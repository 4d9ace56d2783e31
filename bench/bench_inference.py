"""`Ensemble.predict` of 5 FullyConnected(3x100) members on 1e6 events x 20 features, next to a bare inference-mode
forward of the same members in large batches, and next to LUMIN 0.9.1's `Ensemble.predict` (when ../peer-venv exists).

Run from the repository root: `.venv/bin/python bench/bench_inference.py` (or `make bench`). Writes bench/_out/inference.md.
"""
import json, os, platform, subprocess, sys, tempfile, time
from functools import partial
from pathlib import Path

from _report import write_report

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble

N_EVENTS, N_FEATS, N_MODELS, BARE_BS, N_PAIRS = 1_000_000, 20, 5, 65536, 5
PEER_PY = ROOT.parent/'peer-venv'/'bin'/'python'

PEER_SCRIPT = r'''
import json, sys, time, warnings
warnings.simplefilter('ignore')
import numpy as np, torch
torch.set_num_threads(1)
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble
x = np.load(sys.argv[1])
feats = [f'x{i}' for i in range(x.shape[1])]
mb = ModelBuilder('classification', n_out=1, cont_feats=feats, model_args={'body': {'width': 100, 'depth': 3}})
torch.manual_seed(0)
ens = Ensemble.from_models([Model(mb) for _ in range(5)])
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    ens.predict(x, verbose=False)
    times.append(time.perf_counter() - t)
print('PEER_TIMES', json.dumps(times))
'''


def bare(nets, x, bs=BARE_BS):
    "Weighted mean of the members by hand: inference mode, batches of `bs`, one preallocated output."
    out = torch.zeros(len(x), 1)
    with torch.inference_mode():
        for net in nets:
            for s in range(0, len(x), bs): out[s:s+bs] += net(x[s:s+bs])
    return out/len(nets)


def timed(fn):
    t = time.perf_counter()
    res = fn()
    return time.perf_counter() - t, res


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(N_EVENTS, N_FEATS)).astype(np.float32)
    x = torch.from_numpy(x_np)
    mb = ModelBuilder('classification', 1, cont_feats=[f'x{i}' for i in range(N_FEATS)], body=partial(FullyConnected, depth=3, width=100))
    torch.manual_seed(0)
    ens = Ensemble.from_models([Model(mb) for _ in range(N_MODELS)])
    nets = [m.model.eval() for _, m in ens]
    ens.predict(x_np[:1000], verbose=False); bare(nets, x[:1000])  # warm-up
    ratios, t_ens, t_bare, t_small = [], [], [], []
    for _ in range(N_PAIRS):  # alternate, so that load changes hit both sides
        tb, ref = timed(lambda: bare(nets, x))
        te, pred = timed(lambda: ens.predict(x_np, verbose=False))
        ts, _ = timed(lambda: bare(nets, x, 16384))
        t_bare.append(tb); t_ens.append(te); t_small.append(ts); ratios.append(te/tb)
    err = float(np.abs(pred.reshape(-1) - ref.numpy().reshape(-1)).max())
    peer = None
    if PEER_PY.exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp)/'x.npy', x_np)
            env = {**os.environ, 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'OMP_NUM_THREADS': '1'}
            out = subprocess.run([str(PEER_PY), '-c', PEER_SCRIPT, str(Path(tmp)/'x.npy'), '3'], capture_output=True, text=True,
                                 env=env, cwd=tmp)
            line = [l for l in out.stdout.splitlines() if l.startswith('PEER_TIMES')]
            if not line: raise RuntimeError(f'peer run failed:\n{out.stderr[-3000:]}')
            peer = min(json.loads(line[0].split(' ', 1)[1]))
    load = os.getloadavg()[0]
    med = float(np.median(ratios))
    lines = ['## Ensemble inference speed (bench/bench_inference.py)', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, '
             f'1 thread. 1-min load average at the end {load:.1f}. {N_MODELS} untrained FullyConnected(3x100) classifiers on '
             f'{N_EVENTS:.0e} events x {N_FEATS} features (a numpy array); {N_PAIRS} alternating (bare, lumin) pairs. Bare = '
             f'inference-mode forward of each member in batches of {BARE_BS}, summed into one output. lumin = '
             f'`Ensemble.predict(x, verbose=False)` (default bs). Largest |difference| of the predictions: {err:.1e}.', '',
             '| what | time (s) |', '|---|---:|',
             f'| bare forward, batches of {BARE_BS}, fastest | {min(t_bare):.2f} |',
             f'| bare forward, batches of 16384 (lumin\'s default batch), fastest | {min(t_small):.2f} |',
             f'| lumin `Ensemble.predict`, fastest | {min(t_ens):.2f} |',
             f'| LUMIN 0.9.1 `Ensemble.predict`, fastest of 3 | {"n/a" if peer is None else f"{peer:.2f}"} |', '',
             f'lumin / bare: fastest {min(t_ens)/min(t_bare):.2f}, per-pair median {med:.2f} (range {min(ratios):.2f}–{max(ratios):.2f}).'
             + f' lumin / bare at the same batch of 16384 (fastest): {min(t_ens)/min(t_small):.2f}.'
             + ('' if peer is None else f' LUMIN 0.9.1 / lumin (fastest): {peer/min(t_ens):.2f}.')]
    write_report('inference.md', '\n'.join(lines))


if __name__ == '__main__': main()
