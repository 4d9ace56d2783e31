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
from lumin.nn.models.blocks.matrix_head import InteractionNet
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


def interaction_net_check(tmp, n=10_000):
    "Export time and largest |torch - onnxruntime| of a model with an InteractionNet head on padded matrix inputs."
    vecs, fpv = ['j0', 'j1', 'j2', 'j3'], ['px', 'py', 'pz', 'E']
    head = partial(InteractionNet, vecs=vecs, feats_per_vec=fpv, intfunc_depth=2, intfunc_width=32, intfunc_out_sz=8,
                   outfunc_depth=2, outfunc_width=32, outfunc_out_sz=8, agg_method='sum')
    torch.manual_seed(1)
    model = Model(ModelBuilder('classification', 1, cont_feats=['ht'], head=head, body=partial(FullyConnected, depth=2, width=32)))
    t = time.perf_counter()
    path = model.export2onnx(tmp/'inet', bs=16)
    t_export = time.perf_counter() - t
    rng = np.random.default_rng(1)
    flat, mat = rng.normal(size=(n, 1)).astype(np.float32), rng.normal(size=(n, len(vecs), len(fpv))).astype(np.float32)
    mat[rng.random((n, len(vecs))) < 0.4] = np.nan  # absent objects
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    names = [i.name for i in sess.get_inputs()]
    got = sess.run(None, {k: v for k, v in (('flat', flat), ('matrix', mat)) if k in names})[0]
    return t_export, float(np.abs(got - model.predict((flat, mat))).max()), n


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
            t_t, t_o, c_t, c_o = [], [], [], []
            for _ in range(N_PAIRS):
                t, c = time.perf_counter(), time.process_time(); ref = torch_run(nets, weights, x)
                t_t.append(time.perf_counter() - t); c_t.append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time(); got = ort_run(sess, x_np)
                t_o.append(time.perf_counter() - t); c_o.append(time.process_time() - c)
            err = float(np.abs(got - ref).max())
            ratios = [o/tt for o, tt in zip(t_o, t_t)]
            rows.append((n_models, t_export, min(t_t), min(t_o), statistics.median(ratios), err, path.stat().st_size/1e3,
                         min(c_t), min(c_o)))
        inet = interaction_net_check(Path(tmp))
    lines = ['## ONNX export and onnxruntime inference (bench/bench_onnx.py)', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, '
             f'onnxruntime {ort.__version__}, 1 thread on both sides. 1-min load average at the end {os.getloadavg()[0]:.1f}. '
             f'FullyConnected(3x100) classifiers (untrained) on {N_EVENTS:.0e} events x {N_FEATS} features, batches of {BS} on '
             f'both sides; {N_PAIRS} alternating (torch, onnxruntime) pairs, fastest of each reported. The ensemble is one graph '
             '(weighted mean inside the graph); torch runs the members in inference mode and sums them. Export time includes '
             'the verification with onnxruntime at two batch sizes.', '',
             '| members | export + verify (s) | file (kB) | torch wall / CPU (s) | onnxruntime wall / CPU (s) | ort / torch wall, per-pair median | max abs diff |',
             '|---:|---:|---:|---:|---:|---:|---:|']
    for n, te, tt, to, r, err, kb, ct, co in rows:
        lines.append(f'| {n} | {te:.1f} | {kb:.0f} | {tt:.2f} / {ct:.2f} | {to:.2f} / {co:.2f} | {r:.2f} | {err:.1e} |')
    te, err, n = inet
    lines += ['', f'A model with an `InteractionNet` head (4 objects × 4 features, 40 % of the objects absent): export + verify '
                  f'{te:.1f} s; largest |onnxruntime − `Model.predict`| on {n} events {err:.1e}.']
    write_report('onnx.md', '\n'.join(lines))


if __name__ == '__main__': main()
