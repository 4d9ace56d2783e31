"""Training throughput of lumin's `train_models` next to a bare PyTorch loop over the same tensors.

Same network (a `ModelBuilder` 'classification' net: CatEmbHead → FullyConnected 4×100 ReLU → sigmoid tail), same
initial weights, Adam (lr 1e-3), the same weighted binary cross-entropy (`mean(w·BCE)`), the same batch size, the same
data: 200,000 events × 30 features in 10 folds. One run = `N_EPOCHS` epochs of one model: 9 training folds, each
shuffled, batched with the last partial batch dropped, then one validation pass over the 10th fold.

* lumin: `train_models(fy, 1, bs, model_builder, N_EPOCHS)` on the fold file (it reads each fold from HDF5, adds
  `MetricLogger`, `SaveBest` and `EarlyStopping`, and saves the model); the time includes all of that.
* bare: the folds are torch tensors in memory; a plain loop (`randperm`, index, forward, loss, `zero_grad`,
  `backward`, `step`), then a `no_grad` validation pass.

Throughput = training events / wall time of the run. Runs alternate (bare, lumin, bare, lumin, ...); the ratio
lumin/bare compares the fastest run of each side (best of N, robust to other load on a shared machine), and the
median and range of the per-pair ratios are reported beside it. Goal: ≥ 1.0 at bs 1024, ≥ 0.9 at bs 64 and 256. Where a goal is missed, the
report adds a time breakdown of one lumin run (fold reads, model building, validation, saving; instrumented with timing
wrappers) and a cProfile summary (lumin's functions by own and cumulative time).

Run from the repository root: `.venv/bin/python bench/bench_training.py [--quick] [--bare-fused]` (or `make bench`).
`--bare-fused` gives the bare loop the same fused Adam that lumin's ModelBuilder picks by default.
Writes a markdown report to bench/_out/training.md (temporary file, then os.replace).
"""
import cProfile, io, os, platform, pstats, statistics, sys, tempfile, time, warnings
from functools import partial
from pathlib import Path

from _report import write_report

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('MPLBACKEND', 'Agg')
from lumin.data_processing.file_proc import df2foldfile
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.training.train import train_models

BARE_FUSED = '--bare-fused' in sys.argv  # give the bare loop torch's fused Adam too (lumin's default optimiser)
OUT = ROOT/'bench'/'_out'/('training_bare_fused.md' if BARE_FUSED else 'training.md')
N_EVENTS, N_FEATS, N_FOLDS, N_THREADS = 200_000, 30, 10, 2
BATCH_SIZES, GOALS = (64, 256, 1024), {64: 0.9, 256: 0.9, 1024: 1.0}
QUICK = '--quick' in sys.argv
N_PAIRS = 2 if QUICK else 6  # alternating (bare, lumin) pairs per batch size
N_EPOCHS = 1


def make_data(seed: int = 0) -> pd.DataFrame:
    "Synthetic binary classification: Gaussian features, labels from a noisy linear score, positive weights."
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_EVENTS, N_FEATS)).astype(np.float32)
    score = x[:, :5] @ rng.normal(size=5) + rng.normal(size=N_EVENTS)
    df = pd.DataFrame(x, columns=[f'f_{i}' for i in range(N_FEATS)])
    df['gen_target'] = (score > 0).astype(np.int64)
    df['gen_weight'] = rng.uniform(0.5, 2., N_EVENTS).astype(np.float32)
    return df


def builder(feats) -> ModelBuilder:
    return ModelBuilder('classification', n_out=1, cont_feats=feats, opt_args={'opt': 'adam', 'lr': 1e-3},
                        body=partial(FullyConnected, act='relu', width=100, depth=4))


def load_folds(fy: FoldYielder):
    "Every fold as (x, y, w) float32 tensors, y and w shaped (n, 1) like lumin's batches."
    folds = []
    for i in range(fy.n_folds):
        d = fy.get_fold(i)
        folds.append((torch.as_tensor(d['inputs'], dtype=torch.float32),
                      torch.as_tensor(d['targets'], dtype=torch.float32).reshape(-1, 1),
                      torch.as_tensor(d['weights'], dtype=torch.float32).reshape(-1, 1)))
    return folds


def bare_run(mb: ModelBuilder, folds, bs: int) -> float:
    "Train one model for N_EPOCHS with a plain loop (validation on the last fold); return wall seconds."
    t = time.perf_counter()
    torch.manual_seed(0)
    net = mb.get_model()[0]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=BARE_FUSED)
    trn, val = folds[:-1], folds[-1]
    for _ in range(N_EPOCHS):
        net.train()
        for i in torch.randperm(len(trn)).tolist():
            x, y, w = trn[i]
            idxs = torch.randperm(len(x))
            for b in range(len(x)//bs):
                sel = idxs[b*bs:(b+1)*bs]
                loss = F.binary_cross_entropy(net(x[sel]), y[sel], weight=w[sel])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            x, y, w = val
            tot = sum(F.binary_cross_entropy(net(x[b:b+bs]), y[b:b+bs], weight=w[b:b+bs]).item()*len(x[b:b+bs])
                      for b in range(0, len(x), bs))
    return time.perf_counter() - t


def lumin_run(mb: ModelBuilder, fy: FoldYielder, bs: int, savepath: Path) -> float:
    "Train one model for N_EPOCHS with `train_models` (model 0 validates on fold 0); return wall seconds."
    t = time.perf_counter()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        train_models(fy, 1, bs=bs, model_builder=mb, n_epochs=N_EPOCHS, savepath=savepath, live_fdbk=False,
                     overwrite=True)
    return time.perf_counter() - t


def n_trained(folds, bs: int) -> int:
    "Training events per run: whole batches of the 9 training folds, N_EPOCHS times."
    return N_EPOCHS*sum((len(f[0])//bs)*bs for f in folds[:-1])


def breakdown(mb, fy, folds, bs, savepath, quiet, n_rep: int = 5) -> str:
    "Time spent in lumin's pieces during its fastest of `n_rep` runs (timing wrappers), next to the fastest bare run."
    from unittest import mock
    from lumin.nn.models.model import Model
    spots = [(FoldYielder, 'get_fold', 'FoldYielder.get_fold (HDF5 read of each fold)'),
             (Model, '_build', 'Model._build (network + optimiser from the builder)'),
             (Model, '_make_by', 'Model._make_by (BatchYielder per fold)'),
             (Model, '_valid_epoch', 'Model._valid_epoch (validation pass, incl. its fold read)'),
             (Model, 'save', 'Model.save (model file)')]
    best, bares = None, []
    for _ in range(n_rep):
        acc = {}
        def timed(fn, key):
            def run(*a, **k):
                t = time.perf_counter()
                try: return fn(*a, **k)
                finally: acc[key] = acc.get(key, 0.) + time.perf_counter() - t
            return run
        patches = [mock.patch.object(cls, name, timed(getattr(cls, name), label)) for cls, name, label in spots]
        for p in patches: p.start()
        try:
            with quiet(): t_lumin = lumin_run(mb, fy, bs, savepath)
        finally:
            for p in patches: p.stop()
        bares.append(bare_run(mb, folds, bs))
        if best is None or t_lumin < best[0]: best = (t_lumin, acc)
    (t_lumin, acc), t_bare = best, min(bares)
    lines = [f'### Time breakdown of one run at bs {bs} (instrumented; fastest of {n_rep} runs each)', '',
             f'train_models run {t_lumin*1e3:.0f} ms, bare run {t_bare*1e3:.0f} ms, difference '
             f'{(t_lumin - t_bare)*1e3:+.0f} ms.', '', '| where (nested calls overlap) | ms | share of the difference |',
             '|---|---:|---:|']
    lines += [f'| {k} | {v*1e3:.1f} | {v/(t_lumin - t_bare):.0%} |' if t_lumin > t_bare else f'| {k} | {v*1e3:.1f} | — |'
              for k, v in acc.items()]
    return '\n'.join(lines)


def profile_lumin(mb, fy, bs, savepath, quiet) -> str:
    "cProfile one lumin run; summarise lumin's own functions and the callbacks by cumulative time."
    prof = cProfile.Profile()
    with quiet():
        prof.enable()
        lumin_run(mb, fy, bs, savepath)
        prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # total own time of all functions
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
        rows.append((file, line, fn, nc, tt, ct))
    def short(f): return f.split('site-packages/')[-1].split(str(ROOT) + '/')[-1]
    lum = sorted([r for r in rows if '/lumin/' in r[0]], key=lambda r: -r[4])[:10]
    top_ct = sorted([r for r in rows if '/lumin/' in r[0]], key=lambda r: -r[5])[:12]
    tor = sorted([r for r in rows if '/lumin/' not in r[0]], key=lambda r: -r[4])[:8]
    lines = [f'### cProfile of one lumin run at bs {bs} (profiler overhead inflates per-call costs)', '',
             f'Total own time of all functions: {total:.2f} s.', '',
             '**lumin functions by own time**', '', '| function | calls | own (s) | cumulative (s) |', '|---|---:|---:|---:|']
    lines += [f'| `{short(f)}:{l}({fn})` | {nc:,} | {tt:.3f} | {ct:.3f} |' for f, l, fn, nc, tt, ct in lum]
    lines += ['', '**lumin functions by cumulative time**', '', '| function | calls | own (s) | cumulative (s) |', '|---|---:|---:|---:|']
    lines += [f'| `{short(f)}:{l}({fn})` | {nc:,} | {tt:.3f} | {ct:.3f} |' for f, l, fn, nc, tt, ct in top_ct]
    lines += ['', '**other functions by own time**', '', '| function | calls | own (s) | cumulative (s) |', '|---|---:|---:|---:|']
    lines += [f'| `{short(f)}:{l}({fn})` | {nc:,} | {tt:.3f} | {ct:.3f} |' for f, l, fn, nc, tt, ct in tor]
    return '\n'.join(lines)


class _Quiet:
    "Silence stdout (train_models prints its scores)."
    def __enter__(self):
        self._old, sys.stdout = sys.stdout, io.StringIO()
    def __exit__(self, *a): sys.stdout = self._old


def main() -> None:
    torch.set_num_threads(N_THREADS)
    load0 = os.getloadavg()[0]
    df = make_data()
    feats = [c for c in df.columns if c.startswith('f_')]
    rows, profiles = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = df2foldfile(df, N_FOLDS, cont_feats=feats, cat_feats=[], targ_feats='gen_target', wgt_feat='gen_weight',
                           savename=tmp/'bench', targ_type='int', strat_key='gen_target', seed=0, verbose=False)
        fy = FoldYielder(path)
        folds = load_folds(fy)
        mb = builder(feats)
        for bs in BATCH_SIZES:
            n = n_trained(folds, bs)
            with _Quiet(): lumin_run(mb, fy, bs, tmp/'warm')  # warm-up (allocator, caches)
            bare_run(mb, folds, bs)
            t_bare, t_lumin = [], []
            for _ in range(N_PAIRS):
                t_bare.append(bare_run(mb, folds, bs))
                with _Quiet(): t_lumin.append(lumin_run(mb, fy, bs, tmp/'weights'))
            ratios = [b/l for b, l in zip(t_bare, t_lumin)]
            ratio = min(t_bare)/min(t_lumin)  # best of N each: the least disturbed estimate on a shared machine
            rows.append((bs, n/min(t_bare), n/min(t_lumin), ratio, statistics.median(ratios), min(ratios), max(ratios)))
            print(f'bs {bs:>5}: bare {n/min(t_bare):>9,.0f} ev/s  lumin {n/min(t_lumin):>9,.0f} ev/s  ratio {ratio:.3f} '
                  f'(pairs: median {statistics.median(ratios):.3f}, range {min(ratios):.3f}–{max(ratios):.3f})', flush=True)
            if ratio < GOALS[bs]:
                profiles.append(breakdown(mb, fy, folds, bs, tmp/'prof', _Quiet))
                profiles.append(profile_lumin(mb, fy, bs, tmp/'prof', _Quiet))
        fy.close()
    lines = ['# Training throughput: `train_models` vs a bare PyTorch loop', '',
             f'{N_EVENTS:,} events × {N_FEATS} features in {N_FOLDS} folds (9 train, 1 validation); FullyConnected 4×100 ReLU, '
             f'sigmoid output, Adam (lumin: fused kernel, its default; bare: {"fused" if BARE_FUSED else "torch default, not fused"}), weighted BCE; {N_EPOCHS} epoch(s) per run. CPU, torch {torch.__version__}, '
             f'{N_THREADS} threads, {platform.python_implementation()} {platform.python_version()}. '
             f'{N_PAIRS} alternating (bare, lumin) pairs per batch size after one warm-up each. Throughput and ratio use '
             'the fastest run of each side (best of N, the least disturbed estimate on a shared machine); the median and '
             'range of the per-pair ratios show the noise. lumin times include model building, HDF5 fold reads, callbacks, '
             f'validation and saving. Load average (1 min) {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.', '',
             '| bs | bare (events/s) | train_models (events/s) | ratio lumin/bare | per-pair ratios: median (range) | goal | met? |',
             '|---:|---:|---:|---:|---:|---:|:--:|']
    lines += [f'| {bs} | {b:,.0f} | {l:,.0f} | {r:.3f} | {med:.3f} ({lo:.3f}–{hi:.3f}) | ≥ {GOALS[bs]} | '
              f'{"yes" if r >= GOALS[bs] else "**no**"} |' for bs, b, l, r, med, lo, hi in rows]
    if profiles: lines += ['', '## Where the time goes', ''] + [x for p in profiles for x in (p, '')]
    text = '\n'.join(lines) + '\n'
    write_report(OUT.name, text)


if __name__ == '__main__':
    main()
