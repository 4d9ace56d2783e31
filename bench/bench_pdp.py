"""Benchmark of lumin.plotting.interpretation.plot_1d_partial_dependence; writes bench/_out/pdp.md.

Issue goal: 1e4 events x 20 grid points for a 10-model ensemble "in seconds". The ensemble is spec 004's network
(FullyConnected, swish, width 25, depth 3, dense) on the 18 toy kinematic features plus the resonance mass, 10 members
(untrained: prediction cost does not depend on the weights). Timed, best of N_REP runs each, on the same machine in one
run:
1. `plot_1d_partial_dependence` end to end: weighted partial dependence and ICE curves (scikit-learn, through
   `ModelEstimator`), k-means clustering of the curves (n_clusters=10), drawing the figure (not shown, not saved);
2. the same with `n_clusters=None` and the ICE lines not drawn (the computation without clustering and line drawing);
3. a bare loop: set the column to each grid point, `Ensemble.predict`, weighted mean (the floor any implementation has).
Run: .venv/bin/python bench/bench_pdp.py
"""
import os, platform, sys, time, warnings
from functools import partial

from _report import write_report
import numpy as np
import torch
import sklearn
from lumin.data_processing.toy_data import make_toy_data, toy_cont_feats
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble
from lumin.plotting.interpretation import plot_1d_partial_dependence

N_EVENTS, N_POINTS, N_MODELS, N_REP = 10_000, 20, 10, 3

def make_inputs():
    "1e4 toy events with a resonance mass for every event, standardised like a fitted input pipeline would"
    df = make_toy_data(masses=(300., 500., 700.), n_sig_per_mass=2000, n_bkg=4000, seed=0)
    rng = np.random.default_rng(0)
    df.loc[df.gen_target == 0, 'res_mass'] = rng.choice([300., 500., 700.], int((df.gen_target == 0).sum()))
    feats = toy_cont_feats(df, inc_res_mass=True)
    df[feats] = (df[feats] - df[feats].mean())/df[feats].std()
    return df.iloc[:N_EVENTS].reset_index(drop=True), feats

def best_of(fn, n_rep=N_REP):
    times = []
    for _ in range(n_rep):
        t0 = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t0)
    return min(times), out

def bare_loop(ens, df, feats, grid):
    x, w = df[feats].to_numpy(np.float32), df.gen_weight.to_numpy(np.float64)
    j, out = feats.index('res_mass'), []
    for v in grid:
        xv = x.copy(); xv[:, j] = v
        out.append(np.average(ens.predict(xv, verbose=False).reshape(-1), weights=w))
    return np.array(out)

def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    df, feats = make_inputs()
    mb = ModelBuilder('classification', cont_feats=feats, n_out=1, body=partial(FullyConnected, act='swish', width=25, depth=3, dense=True))
    ens = Ensemble.from_models([Model(mb) for _ in range(N_MODELS)])
    kw = dict(wgt_name='gen_weight', n_points=N_POINTS, pdp_isolate_kargs={'grid_type': 'equal'}, show=False, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        plot_1d_partial_dependence(ens, df, 'res_mass', feats, **kw)  # warm-up (imports, first allocation)
        t_full, res = best_of(lambda: plot_1d_partial_dependence(ens, df, 'res_mass', feats, n_clusters=10, **kw))
        t_nocl, _ = best_of(lambda: plot_1d_partial_dependence(ens, df, 'res_mass', feats, n_clusters=None,
                                                                pdp_plot_kargs={'plot_lines': False}, **kw))
        t_bare, pd_bare = best_of(lambda: bare_loop(ens, df, feats, res.data['grid']))
    same = bool(np.allclose(res.data['pd'], pd_bare, rtol=1e-5, atol=1e-6))
    n_pred = N_EVENTS*N_POINTS*N_MODELS
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    lines = [
        '## Partial dependence (bench/bench_pdp.py)', '',
        f'Machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}, torch {torch.__version__} '
        f'(1 thread), scikit-learn {sklearn.__version__}. 1-min load average at start {load:.1f}. Best of {N_REP} runs each, after '
        'one warm-up call.', '',
        f'Workload: {N_EVENTS:.0e} weighted toy events × {N_POINTS} grid points (equal spacing in `res_mass`) for an ensemble of '
        f'{N_MODELS} × FullyConnected(swish, width 25, depth 3, dense) on {len(feats)} features (spec 004\'s network): '
        f'{n_pred:.1e} network evaluations per call.', '',
        '| what | wall time (s) | network evaluations / s |',
        '|---|---:|---:|',
        f'| `plot_1d_partial_dependence`, n_clusters=10 (PD + ICE, k-means, figure) | {t_full:.2f} | {n_pred/t_full:.2e} |',
        f'| same, n_clusters=None, ICE lines not drawn | {t_nocl:.2f} | {n_pred/t_nocl:.2e} |',
        f'| bare loop: set column, `Ensemble.predict`, weighted mean | {t_bare:.2f} | {n_pred/t_bare:.2e} |', '',
        f'Same mean curve from `plot_1d_partial_dependence` and the bare loop: {same}. Goal "in seconds": '
        f'{"met" if t_full < 10 else "not met"} ({t_full:.2f} s). LUMIN 0.9.1 cannot run this workload (its PDPbox API no longer exists).',
    ]
    write_report('pdp.md', '\n'.join(lines))

if __name__ == '__main__': main()
