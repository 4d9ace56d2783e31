"""Training and inference throughput of lumin's matrix heads: `Model.fit`/`Model.predict` next to a bare PyTorch loop of
the same modules.

Data: the object-level toy (`make_toy_objects`): 2 leptons + up to 6 jets per event, i.e. a row-wise matrix of
8 objects × (px, py, pz, E), absent jets as NaN rows; N_EVENTS events in N_FOLDS folds of a fold file. The four-momenta
are divided by 100 (GeV → 100 GeV) for the heads that expect pre-processed inputs; the transformer reads them in GeV.
Network: head → FullyConnected(depth=2, width=64, swish) → sigmoid tail; Adam (lr 1e-3, torch's fused update as
`ModelBuilder` chooses it, given to the bare loop too); weighted binary cross-entropy; batch size BS.

Heads (stated configurations):
* InteractionNet: f_R 2 layers × 32 → 16, f_O 2 × 32 → 16, agg_method='sum'
* RecurrentHead: GRU, depth 1, width 32, bidirectional
* conv head: Conv1DBlock(4→32, k=3) → Res1DBlock(32→32, k=3) → AdaptiveAvgMaxConcatPool1d
* GNNHead(GravNet): 2 GravNet layers (n_s=4, n_lr=16, k=4, n_out 32 each), GraphCollapser mean+max
* ParticleTransformerHead: embed_dim 32, 4 heads, 2 particle blocks, 1 class block, pair bias on

One training run = one epoch of the training folds (each shuffled, whole batches) plus one validation pass:
* lumin: `Model.fit(1, fy, BS, val_idx=N_FOLDS-1)` on the fold file (reads each fold from HDF5, yields (flat, matrix)).
* bare: the same network (same initial weights) on the same folds held as tensors in memory: `randperm`, index,
  forward, loss, `zero_grad`, `backward`, `step`, then a `no_grad` validation pass.
Inference: `Model.predict((flat, matrix), bs=1024)` on one fold vs a `no_grad` loop over the same tensors in batches
of 1024. Throughput = events / wall time; runs alternate (bare, lumin, ...); the ratio compares the fastest run of each
side (best of N_PAIRS), with the median of the per-pair ratios beside it. Goal: lumin within 10 % of the bare loop.

Peer: when the LUMIN 0.9.1 virtualenv of ../shared/PEER.md exists (PEER_PYTHON), `_peer_heads.py` runs in its own
process beside this one and trains and predicts the heads 0.9.1 has (RecurrentHead, the same conv head, GNNHead with
GravNet) with its own `Model.fit`/`predict` on the same events (absent objects as zero rows, since 0.9.1 has no padding
mask; its conv head reads a column-wise matrix), on request, so that its runs alternate with lumin's (bare, lumin, 0.9.1,
bare, ...): the ratios to 0.9.1 are best of N_PAIRS against best of N_PAIRS, with the median of the per-round ratios
beside them, and load drift hits both sides alike. 0.9.1's graph InteractionNet fails on this matrix, so that row has no
peer.

Run from the repository root: `.venv/bin/python bench/bench_heads.py [--quick] [--only NAME]` (`--only` keeps the heads
whose name contains NAME, e.g. `--only gravnet`). Writes bench/_out/heads.md.
"""
import json, os, platform, statistics, subprocess, sys, tempfile, time, warnings
from functools import partial
from pathlib import Path

from _report import write_report

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('MPLBACKEND', 'Agg')
from lumin.data_processing.toy_data import make_toy_objects, toy_object_vecs
from lumin.data_processing.file_proc import df2foldfile
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.model import Model
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.blocks.head import InteractionNet, RecurrentHead, AbsConv1dHead, GNNHead, ParticleTransformerHead
from lumin.nn.models.blocks.conv_blocks import AdaptiveAvgMaxConcatPool1d
from lumin.nn.models.blocks.gnn_blocks import GravNet, GraphCollapser

QUICK = '--quick' in sys.argv
ONLY = sys.argv[sys.argv.index('--only')+1] if '--only' in sys.argv else ''  # run only the heads whose name contains this
N_EVENTS, N_FOLDS, BS, N_THREADS = (8_000 if QUICK else 20_000), 4, 256, 1
N_PAIRS = 2 if QUICK else 5
FPV = ['px', 'py', 'pz', 'E']
PEER_PYTHON = ROOT.parent/'peer-venv'/'bin'/'python'


class ConvHead(AbsConv1dHead):
    "The conv head of the benchmark: Conv1DBlock → Res1DBlock → average+max pooling."
    def get_layers(self, in_c, act='relu', bn=False, **kargs):
        return nn.Sequential(self.get_conv1d_block(in_c, 32, 3, act=act), self.get_conv1d_res_block(32, 32, 3, act=act),
                             AdaptiveAvgMaxConcatPool1d())


def heads(vecs):
    "name → (head partial, scale of the four-momenta)"
    kw = dict(vecs=vecs, feats_per_vec=FPV)
    return {
        'InteractionNet': (partial(InteractionNet, intfunc_depth=2, intfunc_width=32, intfunc_out_sz=16, outfunc_depth=2,
                                   outfunc_width=32, outfunc_out_sz=16, agg_method='sum', **kw), 100.),
        'RecurrentHead (GRU, bidir.)': (partial(RecurrentHead, depth=1, width=32, rnn=nn.GRU, bidirectional=True, **kw), 100.),
        'conv head': (partial(ConvHead, **kw), 100.),
        'GNNHead (GravNet)': (partial(GNNHead, extractor=partial(GravNet, cat_means=True, f_slr_depth=1, n_s=4, n_lr=16, k=4,
                                                                 f_out_depth=1, n_out=[32, 32]),
                                      collapser=partial(GraphCollapser, flatten=False, agg_methods=['mean', 'max']), **kw), 100.),
        'ParticleTransformerHead': (partial(ParticleTransformerHead, **kw), 1.),
    }


def builder(head, feats) -> ModelBuilder:
    return ModelBuilder('classification', n_out=1, cont_feats=feats, head=head, opt_args={'opt': 'adam', 'lr': 1e-3},
                        body=partial(FullyConnected, act='swish', width=64, depth=2))


def load_folds(fy):
    "Every fold as ((flat, matrix), y, w) tensors."
    out = []
    for i in range(fy.n_folds):
        d = fy.get_fold(i)
        flat, mat = d['inputs']
        out.append(((torch.as_tensor(flat, dtype=torch.float32), torch.as_tensor(mat, dtype=torch.float32)),
                    torch.as_tensor(d['targets'], dtype=torch.float32).reshape(-1, 1),
                    torch.as_tensor(d['weights'], dtype=torch.float32).reshape(-1, 1)))
    return out


def bare_train(mb, folds) -> float:
    t = time.perf_counter()
    torch.manual_seed(0)
    net, opt, _, _ = mb.get_model()
    trn, val = folds[:-1], folds[-1]
    net.train()
    for i in torch.randperm(len(trn)).tolist():
        (flat, mat), y, w = trn[i]
        idxs = torch.randperm(len(y))
        for b in range(len(y)//BS):
            sel = idxs[b*BS:(b+1)*BS]
            loss = F.binary_cross_entropy(net((flat[sel], mat[sel])), y[sel], weight=w[sel])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        (flat, mat), y, w = val
        for b in range(0, len(y), BS): F.binary_cross_entropy(net((flat[b:b+BS], mat[b:b+BS])), y[b:b+BS], weight=w[b:b+BS]).item()
    return time.perf_counter() - t


def lumin_train(mb, fy) -> float:
    t = time.perf_counter()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        Model(mb).fit(1, fy, BS, val_idx=fy.n_folds-1, visible_bar=False)
    return time.perf_counter() - t


def bare_predict(net, fold) -> float:
    (flat, mat), _, _ = fold
    t = time.perf_counter()
    net.eval()
    with torch.no_grad(): np.concatenate([net((flat[b:b+1024], mat[b:b+1024])).numpy() for b in range(0, len(flat), 1024)])
    return time.perf_counter() - t


def lumin_predict(model, fold_np) -> float:
    t = time.perf_counter()
    model.predict(fold_np, bs=1024)
    return time.perf_counter() - t


class Peer:
    "LUMIN 0.9.1 in its own process and virtualenv, timing one run of a head on request."
    def __init__(self, df, vecs, mfeats, tmp:Path):
        mat = df[mfeats].to_numpy(np.float32).reshape(len(df), len(vecs), len(FPV))
        np.savez(tmp/'peer_data.npz', matrix=mat, targets=df['gen_target'].to_numpy(), vecs=np.array(vecs), n_folds=N_FOLDS)
        self.err = open(tmp/'peer_stderr.txt', 'w+')
        self.proc = subprocess.Popen([str(PEER_PYTHON), str(ROOT/'bench'/'_peer_heads.py'), str(tmp/'peer_data.npz'), str(BS)],
                                     cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env={**os.environ, 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1', 'OMP_NUM_THREADS': '1'})
        if self._line() != 'ready': self._fail('did not start')
        self.names = json.loads(self._line())

    def _line(self) -> str: return self.proc.stdout.readline().strip()

    def _fail(self, what:str):
        self.err.seek(0)
        raise RuntimeError(f"peer run {what}:\n{self.err.read()[-2000:]}")

    def __call__(self, cmd:str, name:str) -> dict:
        "Run `cmd` ('train' or 'predict') for head `name` and return the peer's answer."
        self.proc.stdin.write(f'{cmd} {name}\n'); self.proc.stdin.flush()
        line = self._line()
        if not line: self._fail(f'failed on {cmd} {name}')
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write('\n'); self.proc.stdin.flush(); self.proc.wait(timeout=60)
        self.err.close()


def compare(*sides):
    "Run the sides in turn N_PAIRS times: best-of-N time of each, and the per-round times."
    times = [[] for _ in sides]
    for _ in range(N_PAIRS):
        for t, side in zip(times, sides): t.append(side())
    return [min(t) for t in times], times


def med_ratio(a, b) -> float:
    "Median over the rounds of a/b (times: the throughput ratio of b over a)."
    return statistics.median(x/y for x, y in zip(a, b))


def main() -> None:
    torch.set_num_threads(N_THREADS)
    load0 = os.getloadavg()[0]
    df = make_toy_objects(n_sig=N_EVENTS//2, n_bkg=N_EVENTS - N_EVENTS//2, seed=0)
    vecs = toy_object_vecs(df)
    mfeats = [f'{v}_{f}' for v in vecs for f in FPV]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for scale in (1., 100.):
            d = df.copy()
            d[mfeats] = d[mfeats]/scale
            paths[scale] = df2foldfile(d, N_FOLDS, cont_feats=[], cat_feats=[], targ_feats='gen_target', wgt_feat='gen_weight',
                                       matrix_vecs=vecs, matrix_feats_per_vec=FPV, savename=Path(tmp)/f'objects_{int(scale)}',
                                       targ_type='int', strat_key='gen_target', seed=0, verbose=False)
        peer = Peer(df, vecs, mfeats, Path(tmp)) if PEER_PYTHON.exists() else None
        try:
            for name, (head, scale) in heads(vecs).items():
                if ONLY.lower() not in name.lower(): continue
                fy = FoldYielder(paths[scale])
                mb = builder(head, list(fy.cont_feats))  # the file's flat features (none): the matrix comes separately
                folds = load_folds(fy)
                n_trn = sum((len(f[1])//BS)*BS for f in folds[:-1])
                has_peer = peer is not None and name in peer.names
                sides = [lambda: bare_train(mb, folds), lambda: lumin_train(mb, fy)]
                if has_peer: sides.append(lambda: peer('train', name)['train_s'])
                (tb, tl, *tp), ts = compare(*sides)
                model = Model(mb)
                fold_np = (folds[0][0][0].numpy(), folds[0][0][1].numpy())
                sides = [lambda: bare_predict(model.model, folds[0]), lambda: lumin_predict(model, fold_np)]
                if has_peer: sides.append(lambda: peer('predict', name)['predict_s'])
                (pb, pl, *pp), ps = compare(*sides)
                n_par = sum(p.numel() for p in model.model[0].parameters())
                n_pred = len(folds[0][1])
                row = dict(name=name, n_par=n_par, bare_t=n_trn/tb, lumin_t=n_trn/tl, rb_t=tb/tl, mb_t=med_ratio(ts[0], ts[1]),
                           bare_p=n_pred/pb, lumin_p=n_pred/pl, rb_p=pb/pl, mb_p=med_ratio(ps[0], ps[1]))
                if has_peer: row.update(peer_t=n_trn/tp[0], rp_t=tp[0]/tl, mp_t=med_ratio(ts[2], ts[1]),
                                        peer_p=n_pred/pp[0], rp_p=pp[0]/pl, mp_p=med_ratio(ps[2], ps[1]))
                rows.append(row)
                print(name, f"{row['rb_t']:.2f} {row['rb_p']:.2f}", *([f"peer {row['rp_t']:.2f} {row['rp_p']:.2f}"] if has_peer else []), flush=True)
        finally:
            if peer is not None: peer.close()
    lines = ['# Matrix heads: `Model.fit`/`Model.predict` vs a bare PyTorch loop', '',
             f'{N_EVENTS:,} toy events (8 object slots × 4 features, NaN padding), {N_FOLDS} folds (3 train + 1 validation), '
             f'batch size {BS}, {N_THREADS} torch thread, best of {N_PAIRS} alternated runs per side. '
             f'torch {torch.__version__}, Python {platform.python_version()}, load average {load0:.1f} at start.', '',
             '| head | head params | bare train (ev/s) | lumin train (ev/s) | lumin/bare | median pair ratio | '
             'bare predict (ev/s) | lumin predict (ev/s) | lumin/bare | median pair ratio |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    lines += [f"| {r['name']} | {r['n_par']:,} | {r['bare_t']:,.0f} | {r['lumin_t']:,.0f} | {r['rb_t']:.2f} | {r['mb_t']:.2f} | "
              f"{r['bare_p']:,.0f} | {r['lumin_p']:,.0f} | {r['rb_p']:.2f} | {r['mb_p']:.2f} |" for r in rows]
    lines += ['', 'Goal: lumin/bare ≥ 0.90 (within 10 % of the bare loop). '
              + ('All met.' if all(r['rb_t'] >= 0.9 and r['rb_p'] >= 0.9 for r in rows) else
                 'Missed for: ' + ', '.join(r['name'] for r in rows if r['rb_t'] < 0.9 or r['rb_p'] < 0.9) + '.')]
    if PEER_PYTHON.exists():
        lines += ['', '### Against LUMIN 0.9.1 (same events and configurations, its own Model.fit/predict, alternated with lumin)', '',
                  '| head | LUMIN 0.9.1 train (ev/s) | lumin train (ev/s) | lumin/0.9.1 | median round ratio | '
                  'LUMIN 0.9.1 predict (ev/s) | lumin predict (ev/s) | lumin/0.9.1 | median round ratio |',
                  '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
        for r in rows:
            if 'peer_t' not in r: lines.append(f"| {r['name']} | — | {r['lumin_t']:,.0f} | — | — | — | {r['lumin_p']:,.0f} | — | — |"); continue
            lines.append(f"| {r['name']} | {r['peer_t']:,.0f} | {r['lumin_t']:,.0f} | {r['rp_t']:.2f} | {r['mp_t']:.2f} | "
                         f"{r['peer_p']:,.0f} | {r['lumin_p']:,.0f} | {r['rp_p']:.2f} | {r['mp_p']:.2f} |")
        peered = [r for r in rows if 'peer_t' in r]
        missed = [r['name'] for r in peered if r['rp_t'] < 1 or r['rp_p'] < 1]
        lines += ['', 'Goal: lumin/0.9.1 ≥ 1.0 for every head 0.9.1 has. ' + (f"Missed for: {', '.join(missed)}. " if missed else 'All met. ')
                  + '0.9.1 has no ParticleTransformerHead, and its graph InteractionNet fails on this matrix; its heads have no '
                  'padding mask (absent objects enter as zeros).', f'Load average at the end: {os.getloadavg()[0]:.1f}.']
    else: lines += ['', f'LUMIN 0.9.1 not measured: no peer virtualenv at {PEER_PYTHON} (see ../shared/PEER.md).']
    write_report('heads.md', '\n'.join(lines))


if __name__ == '__main__':
    main()
