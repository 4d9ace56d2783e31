"""Inference with onnxruntime next to torch on 1e6 events x 20 features: one FullyConnected(3x100) classifier, and a
5-member ensemble exported as one graph (`Ensemble.export2onnx(one_graph=True)`).

Run from the repository root: `.venv/bin/python bench/bench_onnx.py` (or `make bench`); needs the `onnx` extra
(onnx, onnxscript, onnxruntime). Writes bench/_out/onnx.md.
"""
import os, platform, statistics, sys, tempfile, time
from functools import partial
from pathlib import Path

from _report import write_report

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.model import Model
from lumin.nn.ensemble.ensemble import Ensemble
import lumin.nn.export.onnx  # adds export2onnx to Model and Ensemble
import onnxruntime as ort

N_EVENTS, N_FEATS, BS, N_PAIRS = 1_000_000, 20, 16384, 5


def torch_run(nets, weights, x):
    out = torch.zeros(len(x), 1)
    with torch.inference_mode():
        for w, net in zip(weights, nets):
            for s in range(0, len(x), BS): out[s:s+BS] += w*net(x[s:s+BS])
    return out.numpy()


def ort_run(sess, x_np):
    return np.concatenate([sess.run(None, {'flat': x_np[s:s+BS]})[0] for s in range(0, len(x_np), BS)])


def main():
    torch.set_num_threads(1)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(N_EVENTS, N_FEATS)).astype(np.float32)
    x = torch.from_numpy(x_np)
    mb = ModelBuilder('classification', 1, cont_feats=[f'x{i}' for i in range(N_FEATS)], body=partial(FullyConnected, depth=3, width=100))
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_models in (1, 5):
            ens = Ensemble.from_models([Model(mb) for _ in range(n_models)])
            t = time.perf_counter()
            (path,) = ens.export2onnx(Path(tmp)/f'ens{n_models}', one_graph=True)
            t_export = time.perf_counter() - t
            sess = ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
            nets, weights = [m.model.eval() for _, m in ens], list(ens.weights/ens.weights.sum())
            torch_run(nets, weights, x[:1000]); ort_run(sess, x_np[:1000])  # warm-up
            t_t, t_o = [], []
            for _ in range(N_PAIRS):
                t = time.perf_counter(); ref = torch_run(nets, weights, x); t_t.append(time.perf_counter() - t)
                t = time.perf_counter(); got = ort_run(sess, x_np); t_o.append(time.perf_counter() - t)
            err = float(np.abs(got - ref).max())
            ratios = [o/tt for o, tt in zip(t_o, t_t)]
            rows.append((n_models, t_export, min(t_t), min(t_o), statistics.median(ratios), err, path.stat().st_size/1e3))
    lines = ['## ONNX export and onnxruntime inference (bench/bench_onnx.py)', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, '
             f'onnxruntime {ort.__version__}, 1 thread on both sides. 1-min load average at the end {os.getloadavg()[0]:.1f}. '
             f'FullyConnected(3x100) classifiers (untrained) on {N_EVENTS:.0e} events x {N_FEATS} features, batches of {BS} on '
             f'both sides; {N_PAIRS} alternating (torch, onnxruntime) pairs, fastest of each reported. The ensemble is one graph '
             '(weighted mean inside the graph); torch runs the members in inference mode and sums them. Export time includes '
             'the verification with onnxruntime at two batch sizes.', '',
             '| members | export + verify (s) | file (kB) | torch (s) | onnxruntime (s) | ort / torch, per-pair median | max abs diff |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for n, te, tt, to, r, err, kb in rows:
        lines.append(f'| {n} | {te:.1f} | {kb:.0f} | {tt:.2f} | {to:.2f} | {r:.2f} | {err:.1e} |')
    write_report('onnx.md', '\n'.join(lines))


if __name__ == '__main__': main()
