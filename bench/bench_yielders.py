"""Batches per second of `BatchYielder` next to a bare tensor-indexing loop over the same fold.

Run from the repository root: `.venv/bin/python bench/bench_yielders.py` (or `make bench`).
Writes a markdown table to bench/_out/yielders.md (temporary file, then os.replace).
"""
import os, platform, statistics, sys, tempfile, time
from pathlib import Path

from _report import write_report

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lumin.nn.data.batch_yielder import BatchYielder

N_EVENTS, N_FEATS, BATCH_SIZES, N_REPEATS = 200_000, 30, (64, 256, 1024), 15


def make_fold(seed=0):
    "A synthetic fold: flat float32 inputs, binary targets and weights."
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N_EVENTS, N_FEATS)).astype(np.float32), rng.integers(0, 2, N_EVENTS).astype(np.float32),
            rng.uniform(0.5, 2., N_EVENTS).astype(np.float32))


def bare_epoch(x, y, w, bs, gen):
    "Reference loop: tensors already built, one permutation, `index_select` on each tensor per batch (drop_last)."
    idxs = torch.randperm(len(x), generator=gen)
    n = 0
    for i in range(len(x)//bs):
        sel = idxs[i*bs:(i+1)*bs]
        _ = (x.index_select(0, sel), y.index_select(0, sel), w.index_select(0, sel))
        n += 1
    return n


def yielder_epoch(by):
    n = 0
    for _ in by: n += 1
    return n


def epoch_secs(fn):
    "Wall time of one epoch and its number of batches."
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def main():
    torch.set_num_threads(1)
    x_np, y_np, w_np = make_fold()
    x, y, w = torch.from_numpy(x_np), torch.from_numpy(y_np)[:, None], torch.from_numpy(w_np)[:, None]
    rows = []
    for bs in BATCH_SIZES:
        gen = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        by = BatchYielder(x_np, bs=bs, objective='classification', targets=y_np, weights=w_np, seed=0)
        build = time.perf_counter() - t
        bare_t, yld_t = [], []
        for _ in range(N_REPEATS):  # alternate the two loops so load spikes hit both alike
            secs, n = epoch_secs(lambda: bare_epoch(x, y, w, bs, gen)); bare_t.append(secs)
            secs, n = epoch_secs(lambda: yielder_epoch(by)); yld_t.append(secs)
        pair_ratios = [b/y_ for b, y_ in zip(bare_t, yld_t)]
        rows.append((bs, n/min(bare_t), n/min(yld_t), min(bare_t)/min(yld_t), statistics.median(pair_ratios),
                     min(pair_ratios), max(pair_ratios), build*1e3))
    lines = [f"# BatchYielder vs bare tensor indexing",
             "",
             f"Fold: {N_EVENTS:,} events × {N_FEATS} float32 features, binary targets and weights; CPU, "
             f"torch {torch.__version__}, {torch.get_num_threads()} thread, Python {platform.python_version()}, "
             f"{N_REPEATS} alternating (bare, BatchYielder) epochs per batch size; throughput from the fastest epoch of each, "
             f"and the median (range) of the per-pair ratios. Both loops shuffle with `torch.randperm`, gather rows with `index_select` and drop the last partial batch.",
             "",
             "| bs | bare loop (batches/s) | BatchYielder (batches/s) | ratio yielder/bare (fastest) | per-pair ratios: median (range) | BatchYielder construction (ms) |",
             "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {bs} | {bare:,.0f} | {yld:,.0f} | {ratio:.2f} | {med:.2f} ({lo:.2f}–{hi:.2f}) | {build:.1f} |"
              for bs, bare, yld, ratio, med, lo, hi, build in rows]
    text = '\n'.join(lines) + '\n'
    write_report('yielders.md', text)


if __name__ == '__main__': main()
