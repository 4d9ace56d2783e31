"""lumin demo, the main job: a parameterised neural network (PNN) for a resonance search, end to end on toy data.

1. Make the built-in toy data, write it to a fold file, and summarise the file (features, folds, weights by class).
2. Spec 004's workflow on a small scale: toy signal at six resonance masses (600 GeV left out of training) and
   background with masses sampled from the training masses; an even/odd split with an input pipeline per half; training
   weights balanced per mass; fold files; an LR range test; `train_models` with a 1-cycle schedule and an AMS metric; an
   ensemble of the models, saved with its input pipeline and reloaded.
3. Reload both ensembles (one per half); each predicts the half it never saw, at every mass hypothesis including the
   left-out mass; print the weighted ROC AUC and the maximum AMS (140 fb⁻¹) over all events.

Run with `make demo` (or `python examples/demo.py`); output goes to ./demo_out/. Takes well under a minute on an idle 2-core CPU.
"""
from pathlib import Path
import time

import os
from functools import partial

os.environ.setdefault('MPLBACKEND', 'Agg')
import h5py
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from lumin.data_processing.file_proc import check_foldfile, df2foldfile
from lumin.data_processing.pnn_proc import add_bkg_res_mass, balance_weights_resonant
from lumin.data_processing.pre_proc import fit_input_pipe
from lumin.data_processing.toy_data import make_toy_data, toy_cont_feats
from lumin.evaluation.ams import ams_scan_slow
from lumin.nn.callbacks.cyclic_callbacks import OneCycle
from lumin.nn.callbacks.pred_handlers import ParametrisedPrediction
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.ensemble.ensemble import Ensemble
from lumin.nn.metrics.class_eval import AMS
from lumin.nn.models.blocks.body import FullyConnected
from lumin.nn.models.helpers import CatEmbedder
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.training.train import train_models
from lumin.optimisation.hyper_param import fold_lr_find

OUT_DIR = Path('demo_out')
N_FOLDS = 10
SEED = 0


def write_foldfile(out_dir: Path = OUT_DIR) -> Path:
    "Generate the toy data and write it as a stratified fold file; return its path."
    df = make_toy_data(seed=SEED)
    start = time.perf_counter()
    path = df2foldfile(df, N_FOLDS, cont_feats=toy_cont_feats(df), cat_feats=[], targ_feats='gen_target',
                       savename=out_dir/'toy', targ_type='int', strat_key='gen_target',
                       misc_feats=['res_mass', 'gen_sample', 'event_number'], wgt_feat='gen_weight',
                       matrix_vecs=['l_0', 'l_1', 'j_0', 'j_1'], matrix_feats_per_vec=['pT', 'eta', 'phi', 'E'],
                       matrix_row_wise=True, seed=SEED, verbose=False)
    print(f"Wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {len(df)} events) "
          f"in {time.perf_counter() - start:.2f} s")
    return path


def _wrap(names, width=96, indent=4) -> str:
    "Comma-separated names wrapped to `width` columns."
    lines, line = [], ''
    for name in names:
        piece = name if not line else f', {name}'
        if len(line) + len(piece) > width - indent: lines.append(line + ','); line = name
        else: line += piece
    lines.append(line)
    return '\n'.join(' ' * indent + l for l in lines)


def summarise(path: Path) -> None:
    "Print the fold file's features, targets and per-fold event counts and weight sums by class."
    meta = check_foldfile(path)
    print(f"\n{meta['n_folds']} folds, written by lumin {meta['lumin_version']}")
    print(f"continuous features ({len(meta['cont_feats'])}):\n{_wrap(meta['cont_feats'])}")
    cats = meta['cat_feats']
    print(f"categorical features ({len(cats)}):" + (f"\n{_wrap(cats)}" if cats else " none"))
    print(f"targets: {', '.join(meta['targ_feats'])}   weights: {meta['wgt_feat']}   "
          f"misc: {', '.join(meta['misc_feats'])}")
    mat = meta['matrix_feats']
    if mat:
        print(f"matrix: {len(mat['vecs'])} vectors ({', '.join(mat['vecs'])}) x "
              f"{len(mat['feats_per_vec'])} features ({', '.join(mat['feats_per_vec'])}), "
              f"{'row' if mat['row_wise'] else 'column'}-wise, shape per event {tuple(mat['shape'])}")
    print(f"\n{'fold':>4} {'events':>7} {'bkg':>6} {'sig':>6} {'sig frac':>8} {'sum w bkg':>11} {'sum w sig':>11}")
    tot = np.zeros(4)
    with h5py.File(path, 'r') as f:
        for i in range(meta['n_folds']):
            targ, wgt = f[f'fold_{i}/targets'][:], f[f'fold_{i}/weights'][:].astype(np.float64)
            row = np.array([(targ == 0).sum(), (targ == 1).sum(), wgt[targ == 0].sum(), wgt[targ == 1].sum()])
            tot += row
            print(f"{i:>4} {len(targ):>7} {row[0]:>6.0f} {row[1]:>6.0f} {row[1] / len(targ):>8.3f} "
                  f"{row[2]:>11.2f} {row[3]:>11.4f}")
    n = tot[0] + tot[1]
    print(f"{'all':>4} {n:>7.0f} {tot[0]:>6.0f} {tot[1]:>6.0f} {tot[1] / n:>8.3f} {tot[2]:>11.2f} {tot[3]:>11.4f}")


# ---- PNN workflow (spec 004) ----
MASSES = [300., 400., 500., 600., 700., 800.]  # toy resonance masses (GeV)
LEFT_OUT = 600.  # never trained on (GeV)
TRAIN_MASSES = [m for m in MASSES if m != LEFT_OUT]
N_SIG_PER_MASS, N_BKG = 5000, 40_000
# spec 004's settings: 10 folds, 10 models, 15 epochs, patience 5, bs 1024, OneCycle lengths (45, 90) sub-epochs
PNN_FOLDS, N_MODELS, N_EPOCHS, PATIENCE, BS = 10, 10, 15, 5, 1024
LR_BS = 64  # fold_lr_find trains on a single fold (~3,000 events): a smaller batch gives its LR sweep ~50 steps
LUMI = 140.  # integrated luminosity (fb⁻¹) for the AMS (LHC Run 2); toy weights are cross-sections in fb
BR = 10.  # AMS background regularisation term


def write_pnn_sets(out_dir: Path, n_sig_per_mass: int = N_SIG_PER_MASS, n_bkg: int = N_BKG, n_folds: int = PNN_FOLDS,
                   seed: int = SEED + 1, verbose: bool = True) -> dict:
    """Spec 004's importing step: two halves, a pipeline each, balanced training weights, four fold files.

    Returns the fold files' paths (`'paths'`: `train_0`, `test_0`, `train_1`, `test_1`), the features, the events
    (`'df'`), and each half's events (`'halves'`) and training events (`'trains'`) before transformation.
    `tests/test_pnn_workflow.py` runs the same steps on a smaller sample."""
    df = make_toy_data(masses=MASSES, n_sig_per_mass=n_sig_per_mass, n_bkg=n_bkg, seed=seed)
    cont_feats = toy_cont_feats(df, inc_res_mass=True)
    df['gen_orig_weight'] = df.gen_weight.astype(np.float64)
    add_bkg_res_mass(df, TRAIN_MASSES, seed=SEED)  # background masses drawn from the training masses only
    df['res_mass_orig'] = df.res_mass.astype(np.float64)
    df['gen_strat_key'] = (df.gen_target*10_000 + df.res_mass_orig).astype(np.int64)  # stratify by class and mass
    halves = [df[df.event_number % 2 == i].reset_index(drop=True) for i in (0, 1)]  # even / odd events
    trains = [h[h.res_mass_orig != LEFT_OUT].reset_index(drop=True) for h in halves]
    pipes = [fit_input_pipe(t, cont_feats, out_dir/f'input_pipe_{i}') for i, t in enumerate(trains)]
    paths = {}
    kw = dict(cont_feats=cont_feats, cat_feats=[], targ_feats='gen_target', wgt_feat='gen_weight', targ_type='int',
              strat_key='gen_strat_key', misc_feats=['gen_orig_weight', 'gen_strat_key', 'res_mass_orig'],
              seed=SEED, verbose=False)
    for i in (0, 1):
        trn, tst = trains[i].copy(), halves[i].copy()
        trn[cont_feats] = pipes[i].transform(trn[cont_feats].values.astype('float32'))
        tst[cont_feats] = pipes[1-i].transform(tst[cont_feats].values.astype('float32'))  # for the other ensemble
        balance_weights_resonant(trn, mass_col='res_mass_orig')  # res_mass itself is now standardised
        paths[f'train_{i}'] = df2foldfile(trn, n_folds, savename=out_dir/f'train_{i}', **kw)
        paths[f'test_{i}'] = df2foldfile(tst, n_folds, savename=out_dir/f'test_{i}', **kw)
        if verbose:
            print(f"  set {i} ({'even' if i == 0 else 'odd'} events): {len(trn)} training events (no {LEFT_OUT:.0f} GeV "
                  f"signal), {len(tst)} test events for ensemble {1-i}")
    return dict(paths=paths, cont_feats=cont_feats, cat_feats=[], df=df, halves=halves, trains=trains)


def pnn_builder(train_fy: FoldYielder) -> ModelBuilder:
    "Spec 004's model: a dense swish body of three layers of 25, Adam with eps 1e-8."
    return ModelBuilder('classification', cont_feats=train_fy.cont_feats, n_out=1, cat_embedder=CatEmbedder.from_fy(train_fy),
                        body=partial(FullyConnected, act='swish', width=25, depth=3, dense=True, do=0),
                        opt_args={'opt': 'adam', 'eps': 1e-08})


def train_pnn(paths: dict, out_dir: Path, i: int) -> Path:
    "Spec 004's training step on set `i`: LR range test (set 0 only), train_models, ensemble saved with its pipeline."
    train_fy = FoldYielder(paths[f'train_{i}'], input_pipe=out_dir/f'input_pipe_{i}.pkl')
    model_builder = pnn_builder(train_fy)
    if i == 0:
        start = time.perf_counter()
        finders = fold_lr_find(train_fy, model_builder, LR_BS, lr_bounds=[1e-7, 1e1], show_plot=False)
        n = min(len(f.history['lr']) for f in finders)
        loss = np.mean([np.asarray(f.history['smooth_loss'][:n]) for f in finders], axis=0)
        best = 3 + int(np.nanargmin(loss[3:]))
        print(f"  LR range test ({len(finders)} folds, {time.perf_counter() - start:.1f} s): smoothed loss lowest at "
              f"lr = {finders[0].history['lr'][best]:.2g}; training with the spec's range [1e-3, 1e-2]")
    cb_partials = [partial(OneCycle, lengths=(45, 90), lr_range=[1e-3, 1e-2], mom_range=(0.85, 0.95), interp='cosine')]
    metric_partials = [partial(AMS, n_total=train_fy.get_data_count(), br=BR, wgt_name='gen_orig_weight', main_metric=False)]
    print(f"  ensemble {i}: training {N_MODELS} models on set {i}")
    start = time.perf_counter()
    results, histories, cycle_losses = train_models(train_fy, N_MODELS, model_builder=model_builder, bs=BS,
                                                    cb_partials=cb_partials, metric_partials=metric_partials,
                                                    n_epochs=N_EPOCHS, patience=PATIENCE,
                                                    savepath=out_dir/f'train_weights_{i}', live_fdbk=True,
                                                    live_fdbk_first_only=True, overwrite=True)
    print(f"  ensemble {i}: {N_MODELS} models trained in {time.perf_counter() - start:.1f} s")
    ensemble = Ensemble.from_results(results, N_MODELS, model_builder, metric='loss', verbose=False)
    ensemble.add_input_pipe(train_fy.input_pipe)
    name = out_dir/'weights'/f'pnn_set_{i}'
    ensemble.save(name, feats=train_fy.cont_feats + train_fy.cat_feats, overwrite=True)
    train_fy.close()
    return name


def predict_pnn(name: Path, test_path: Path) -> pd.DataFrame:
    "Reload a saved ensemble and predict its test set at every mass hypothesis: one column `pred_{mass}` each."
    ensemble = Ensemble.from_save(name)
    with FoldYielder(test_path) as fy:
        feats = fy.cont_feats + fy.cat_feats
        df = pd.DataFrame({'gen_target': fy.get_column('targets').reshape(-1), 'gen_weight': fy.get_column('gen_orig_weight'),
                           'res_mass': fy.get_column('res_mass_orig')})
        for mass in MASSES:
            pp = ParametrisedPrediction(feats, 'res_mass', mass, input_pipe=ensemble.input_pipe)
            ensemble.predict(fy, pred_name=f'pred_{mass:.0f}', cbs=[pp], verbose=False)
            df[f'pred_{mass:.0f}'] = fy.get_column(f'pred_{mass:.0f}').reshape(-1)
    return df


def report_pnn(df: pd.DataFrame) -> None:
    "Weighted ROC AUC and maximum AMS at every mass hypothesis: signal of that mass against all background."
    print(f"\n{'mass (GeV)':>10} {'sig events':>10} {'bkg events':>10} {'ROC AUC':>8} {'max AMS':>8}   "
          f"(AMS for {LUMI:g} fb⁻¹, b_r = {BR:g})")
    for mass in MASSES:
        sel = df[(df.gen_target == 0) | (df.res_mass == mass)].rename(columns={f'pred_{mass:.0f}': 'pred'})
        auc = roc_auc_score(sel.gen_target, sel.pred, sample_weight=sel.gen_weight)
        ams, _ = ams_scan_slow(sel, wgt_factor=LUMI, br=BR, start_cut=0., show_prog=False)
        note = '  <- left out of training' if mass == LEFT_OUT else ''
        print(f"{mass:>10.0f} {int(sel.gen_target.sum()):>10} {int((sel.gen_target == 0).sum()):>10} {auc:>8.3f} {ams:>8.2f}{note}")


def main() -> None:
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)  # a 25-wide network: one thread is fastest (two only add synchronisation)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    print("lumin demo, part 1: toy data -> fold file")
    path = write_foldfile()
    summarise(path)
    print(f"\nlumin demo, part 2: PNN (spec 004) on toy resonances at {', '.join(f'{m:.0f}' for m in MASSES)} GeV, "
          f"{LEFT_OUT:.0f} GeV left out of training")
    start = time.perf_counter()
    paths = write_pnn_sets(OUT_DIR)['paths']
    names = [train_pnn(paths, OUT_DIR, i) for i in (0, 1)]
    for name in names: print(f"  ensemble saved to {name.resolve()}")
    print("\nlumin demo, part 3: each reloaded ensemble predicts the half it did not train on, at each mass hypothesis;"
          "\ntogether they cover every event")
    df = pd.concat([predict_pnn(names[i], paths[f'test_{1-i}']) for i in (0, 1)], ignore_index=True)
    report_pnn(df)
    print(f"\nPNN part took {time.perf_counter() - start:.0f} s; outputs in {OUT_DIR.resolve()}")


if __name__ == '__main__':
    main()
