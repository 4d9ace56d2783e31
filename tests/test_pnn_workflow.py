"""Spec 004 end to end: a parameterised neural network (PNN) for a resonance search, on the built-in toy data.

The steps follow the walk-through of spec 004 on a small scale (7,600 events, 5 folds, 3 models per ensemble):

1. Importing: toy signal at six resonance masses plus background; one mass (600 GeV) is left out of training.
   Background events get masses sampled from the training masses; the events are split by event-number parity into
   two halves; an input pipeline is fitted on each half's training set; training sets are transformed with their own
   pipeline, test sets with the *other* half's pipeline; training weights are balanced per mass; all four sets are
   written as fold files.
2. Training: `FoldYielder` with the pipeline's pickle, `CatEmbedder.from_fy`, `ModelBuilder` with the spec's dense
   swish body, `fold_lr_find`, `train_models` with a `OneCycle` schedule and an `AMS` metric on the original weights.
3. Ensembling and testing: spec 004's own cell (results read from `train_weights/results_file.pkl` with `pickle`,
   `Ensemble.from_results`, `add_input_pipe`, `save`), reload; predictions on the other half at the left-out mass, via
   `ParametrisedPrediction` and, independently, by setting the mass column by hand.

The importing steps and the model are `write_pnn_sets` and `pnn_builder` of `examples/demo.py`, which runs the same
workflow at a larger scale, so the demo and this test share one implementation.

As in the spec, two ensembles are trained, one per half, and each is tested on the other half, so every event gets a
prediction from an ensemble that never saw it. The whole module takes about 10 s on an idle 2-core CPU.
"""
import importlib.util, math, os, pickle, warnings
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from lumin.data_processing.pre_proc import load_pipe
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.model import Model
from lumin.nn.callbacks.cyclic_callbacks import OneCycle
from lumin.nn.callbacks.pred_handlers import ParametrisedPrediction
from lumin.nn.metrics.class_eval import AMS
from lumin.nn.training.train import train_models
from lumin.nn.ensemble.ensemble import Ensemble
from lumin.optimisation.hyper_param import fold_lr_find

# The PNN preparation and model of spec 004 are the demo's (examples/demo.py), run here on a smaller sample
_spec = importlib.util.spec_from_file_location('lumin_demo', Path(__file__).resolve().parents[1]/'examples'/'demo.py')
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)

SEED = 0
MASSES, LEFT_OUT, TRAIN_MASSES = demo.MASSES, demo.LEFT_OUT, demo.TRAIN_MASSES  # resonance masses (GeV); 600 left out
N_SIG_PER_MASS, N_BKG = 600, 4000
N_FOLDS, N_MODELS, N_EPOCHS, BS = 5, 3, 15, 128  # spec 004: 10 folds, 10 models, 15 epochs, bs 1024
LR_BS = 16  # fold_lr_find trains on a single fold (~700 events here): a small batch gives the sweep ~40 steps
N_TRN_FOLDS = N_FOLDS - 1  # each model validates on one fold and trains on the rest
AUC_MIN = 0.90  # weighted ROC AUC required at the left-out mass (0.97-0.98 over seeds 0-4)
AUC_GAIN_MIN = 0.15  # required margin over the AUC of the same events at a wrong hypothesis, 300 GeV (0.6-0.76)

# Spec 004's cell after training, verbatim (its `run_name` is defined by the walk-through's earlier cells)
SPEC_004_ENSEMBLE_CELL = """
with open('train_weights/results_file.pkl', 'rb') as fin:   
    results = pickle.load(fin)
    
ensemble = Ensemble.from_results(results, n_models, model_builder, metric='loss')
ensemble.add_input_pipe(train_fy.input_pipe)

name = f'weights/selected_set_0_{run_name}'

ensemble.save(name, feats=train_fy.cont_feats+train_fy.cat_feats, overwrite=True)
"""


def make_sets(tmp: Path) -> dict:
    "Spec 004's importing notebook on toy data: the paths written (`'sets'`), the features and the events."
    out = demo.write_pnn_sets(tmp, n_sig_per_mass=N_SIG_PER_MASS, n_bkg=N_BKG, n_folds=N_FOLDS, seed=SEED, verbose=False)
    out['sets'] = out.pop('paths')
    return out


@pytest.fixture(scope='module')
def workflow(tmp_path_factory):
    "Run spec 004 once (importing, LR finder, training, ensembling, saving) and hand the pieces to the tests."
    tmp = tmp_path_factory.mktemp('pnn')
    cwd, n_threads = Path.cwd(), torch.get_num_threads()
    torch.set_num_threads(1)  # a 25-wide network: one thread is fastest, and robust on a busy CI machine
    os.chdir(tmp)  # anything written to a default relative path lands in the temporary directory
    fys = []
    try:
        np.random.seed(SEED)
        torch.manual_seed(SEED)
        out = make_sets(tmp)
        ensembles, results, histories, names = [], [], [], []
        for i in (0, 1):  # spec 004 trains one ensemble per half; each is tested on the other half
            train_fy = FoldYielder(out['sets'][f'train_{i}'], input_pipe=tmp/f'input_pipe_{i}.pkl')
            fys.append(train_fy)
            model_builder = demo.pnn_builder(train_fy)
            if i == 0: out['lr_finders'] = fold_lr_find(train_fy, model_builder, LR_BS, lr_bounds=[1e-7, 1e1], show_plot=False)
            # spec 004: lengths=(45, 90) sub-epochs = 15 epochs × 9 training folds; here the same 1:2 split of
            # N_EPOCHS × N_TRN_FOLDS sub-epochs (the 'auto' unit reads lengths longer than n_epochs as sub-epochs)
            n_sub = N_EPOCHS*N_TRN_FOLDS
            cb_partials = [partial(OneCycle, lengths=(n_sub//3, n_sub - n_sub//3), lr_range=[1e-3, 1e-2],
                                   mom_range=(0.85, 0.95), interp='cosine')]
            metric_partials = [partial(AMS, n_total=train_fy.get_data_count(), br=10, wgt_name='gen_orig_weight',
                                       main_metric=False)]
            if i == 0: out['model_repr'] = repr(Model(model_builder))  # the spec shows the model
            # set 0 is saved where spec 004 saves it (the default `train_weights`); set 1 beside it
            where = {} if i == 0 else {'savepath': tmp/'train_weights_1'}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                res, hist, cycle_losses = train_models(train_fy, N_MODELS, model_builder=model_builder, bs=BS,
                                                       cb_partials=cb_partials, metric_partials=metric_partials,
                                                       n_epochs=N_EPOCHS, patience=N_EPOCHS, live_fdbk=False, **where)
            out.setdefault('warnings', []).extend(caught)
            if i == 0:  # spec 004's own cell: results from the pickle, the ensemble saved under weights/
                spec_ns = dict(pickle=pickle, Ensemble=Ensemble, n_models=N_MODELS, model_builder=model_builder,
                               train_fy=train_fy, run_name='toy')
                exec(SPEC_004_ENSEMBLE_CELL, spec_ns)
                ensemble, name = spec_ns['ensemble'], tmp/spec_ns['name']
                out['spec_results'] = spec_ns['results']
            else:
                ensemble = Ensemble.from_results(res, N_MODELS, model_builder, metric='loss', verbose=False)
                ensemble.add_input_pipe(train_fy.input_pipe)
                name = tmp/'weights'/f'selected_set_{i}'
                ensemble.save(name, feats=train_fy.cont_feats + train_fy.cat_feats, overwrite=True)
            names.append(name)
            ensembles.append(ensemble); results.append(res); histories.append(hist)
        out.update(tmp=tmp, train_fy=fys[0], ensembles=ensembles, results=results, histories=histories, names=names)
        yield out
    finally:
        for fy in fys: fy.close()
        os.chdir(cwd)
        torch.set_num_threads(n_threads)


def _pred_at_mass(ensemble, fy: FoldYielder, mass: float, pred_name: str) -> np.ndarray:
    "Ensemble predictions on every event of `fy`, all evaluated at resonance mass `mass` (GeV)."
    pp = ParametrisedPrediction(fy.cont_feats + fy.cat_feats, 'res_mass', mass, input_pipe=ensemble.input_pipe)
    ensemble.predict(fy, pred_name=pred_name, cbs=[pp], verbose=False)
    return fy.get_column(pred_name).reshape(-1)


# ---- Importing ----

def test_fold_files(workflow):
    "Four fold files with the spec's misc features; training weights balanced per mass; pipes fitted on the right half."
    w = workflow
    for key, path in w['sets'].items():
        with FoldYielder(path) as fy:
            assert fy.n_folds == N_FOLDS
            assert fy.cont_feats == w['cont_feats'] and fy.cat_feats == [] and fy.wgt_feat == 'gen_weight'
            for col in ('gen_orig_weight', 'gen_strat_key', 'res_mass_orig'): assert fy.get_column(col) is not None
            targ, mass = fy.get_column('targets').reshape(-1), fy.get_column('res_mass_orig')
            assert set(np.unique(mass[targ == 0])) <= set(TRAIN_MASSES)  # background masses sampled from training masses
            if key.startswith('train'):
                assert LEFT_OUT not in mass  # the left-out mass is never trained on
                wgt = fy.get_column('weights').astype(np.float64)
                sums = [[wgt[(mass == m) & (targ == c)].sum() for c in (0, 1)] for m in TRAIN_MASSES]
                np.testing.assert_allclose(sums, len(wgt)/(2*len(TRAIN_MASSES)), rtol=1e-4)
            else:
                assert (mass[targ == 1] == LEFT_OUT).sum() == pytest.approx(N_SIG_PER_MASS/2, abs=N_SIG_PER_MASS*0.1)
                np.testing.assert_allclose(fy.get_column('weights'), fy.get_column('gen_orig_weight'), rtol=1e-6)
    # each training set is standardised by its own pipe; the other half's test set by the *other* pipe
    for i in (0, 1):
        pipe = load_pipe(w['tmp']/f'input_pipe_{i}.pkl')
        raw = w['trains'][i][w['cont_feats']].to_numpy(np.float64)
        np.testing.assert_allclose(pipe[-1].mean_, raw.mean(0), rtol=1e-5, atol=1e-5)
        with FoldYielder(w['sets'][f'test_{1-i}']) as fy:
            x = np.concatenate([fy.get_fold(f)['inputs'] for f in range(N_FOLDS)])
            raw = w['halves'][1-i][w['cont_feats']].to_numpy(np.float64)
            assert len(x) == len(raw)
            np.testing.assert_allclose(np.sort(x[:, 0]), np.sort(pipe.transform(raw.astype('float32'))[:, 0]), rtol=1e-5, atol=1e-5)


# ---- Training ----

def test_lr_finder(workflow):
    "The LR range test gives a loss curve that falls, has its minimum at a sensible learning rate, then blows up."
    finders = workflow['lr_finders']
    assert len(finders) == N_FOLDS  # fold_lr_find: one range test per fold
    n = min(len(f.history['lr']) for f in finders)
    assert n >= 30
    lrs = np.asarray(finders[0].history['lr'][:n])
    assert lrs[0] == pytest.approx(1e-7, rel=1e-6) and np.all(np.diff(np.log(lrs)) > 0)
    raw = np.mean([np.asarray(f.history['loss'][:n]) for f in finders], axis=0)
    smooth = np.mean([np.asarray(f.history['smooth_loss'][:n]) for f in finders], axis=0)
    best = 3 + int(np.nanargmin(smooth[3:]))  # the first smoothed values are a few noisy batches only
    assert 1e-3 <= lrs[best] <= 1., f'smoothed loss lowest at lr={lrs[best]:.2g}'
    assert raw[(lrs >= 1e-2) & (lrs <= 0.3)].mean() < raw[lrs <= 1e-5].mean()  # the network learns at good rates
    assert raw[lrs > 1].max() > 2*smooth[best]  # and diverges at too high ones


def test_training_results(workflow):
    "train_models gives one result per model with a finite loss and an AMS from the original weights, and saves them."
    assert 'FullyConnected' in workflow['model_repr'] and ' at 0x' not in workflow['model_repr']  # deterministic repr
    # the OneCycle lengths span exactly n_epochs × training folds sub-epochs, so its unit is unambiguous: no warning
    cyc_warns = [str(w.message) for w in workflow['warnings'] if 'cyclic_callbacks' in w.filename or 'OneCycle' in str(w.message)]
    assert cyc_warns == []
    for results, histories in zip(workflow['results'], workflow['histories']):
        assert len(results) == N_MODELS and len(histories) == N_MODELS
        for res, hist in zip(results, histories):
            assert math.isfinite(res['loss']) and 0 < res['loss'] < 0.69  # better than a constant 0.5 prediction
            assert math.isfinite(res['AMS']) and res['AMS'] > 0
            assert Path(res['path']).exists() and workflow['tmp'] in Path(res['path']).resolve().parents
            assert len(hist['val_loss']) == N_EPOCHS  # the 1-cycle spans exactly the requested epochs
            assert len(hist['AMS']) == N_EPOCHS


def test_spec_004_results_pickle(workflow):
    "Spec 004's cell loads `train_weights/results_file.pkl` with pickle: the same results, as built-in types only."
    def builtin_only(obj):
        if isinstance(obj, dict): return all(type(k) is str and builtin_only(v) for k, v in obj.items())
        if isinstance(obj, list): return all(builtin_only(v) for v in obj)
        return type(obj) in (str, int, float, bool, type(None))
    assert workflow['spec_results'] == workflow['results'][0]
    assert builtin_only(workflow['spec_results'])
    with open(workflow['tmp']/'train_weights'/'cycle_file.pkl', 'rb') as fin: assert pickle.load(fin) == [[]]*N_MODELS
    assert (workflow['tmp']/'weights'/'selected_set_0_toy').exists() and workflow['names'][0].name == 'selected_set_0_toy'


# ---- Ensemble and testing ----

def _test_set(workflow, i: int) -> str:
    "Fold file of the half that ensemble `i` did not train on (transformed with ensemble i's pipeline)."
    return workflow['sets'][f'test_{1-i}']


def test_left_out_mass(workflow):
    "At the left-out mass the PNN separates signal from background, and uses the mass: a wrong hypothesis does worse."
    w = workflow
    targs, wgts, sels, preds, preds_wrong = [], [], [], [], []
    for i, ens in enumerate(w['ensembles']):
        with FoldYielder(_test_set(w, i)) as fy:
            targ = fy.get_column('targets').reshape(-1)
            mass, wgt = fy.get_column('res_mass_orig'), fy.get_column('gen_orig_weight')
            sel = (targ == 0) | (mass == LEFT_OUT)  # all background and the left-out signal
            pred = _pred_at_mass(ens, fy, LEFT_OUT, 'pred_600')
            pred_wrong = _pred_at_mass(ens, fy, 300., 'pred_300')
            x = np.concatenate([fy.get_fold(f)['inputs'] for f in range(N_FOLDS)])
        assert pred.shape == targ.shape and np.all((pred >= 0) & (pred <= 1))
        auc = roc_auc_score(targ[sel], pred[sel], sample_weight=wgt[sel])
        auc_wrong = roc_auc_score(targ[sel], pred_wrong[sel], sample_weight=wgt[sel])
        print(f'ensemble {i}: weighted ROC AUC at the left-out mass {LEFT_OUT:.0f} GeV: {auc:.3f} '
              f'(at a 300 GeV hypothesis: {auc_wrong:.3f})')
        assert auc >= AUC_MIN
        assert auc - auc_wrong >= AUC_GAIN_MIN
        # setting the mass by hand (transformed by the same pipe) gives the same predictions as ParametrisedPrediction
        j = w['cont_feats'].index('res_mass')
        raw = np.zeros((1, len(w['cont_feats'])), dtype=np.float32)
        raw[0, j] = LEFT_OUT
        x[:, j] = ens.input_pipe.transform(raw)[0, j]
        np.testing.assert_allclose(ens.predict(x, verbose=False).reshape(-1), pred, rtol=1e-5, atol=1e-7)
        targs.append(targ); wgts.append(wgt); sels.append(sel); preds.append(pred)
    # spec 004's point of two ensembles: every event gets an unbiased prediction, so the whole sample can be tested
    targ, wgt, sel, pred = (np.concatenate(a) for a in (targs, wgts, sels, preds))
    assert len(targ) == len(w['df'])
    auc = roc_auc_score(targ[sel], pred[sel], sample_weight=wgt[sel])
    print(f'both halves: weighted ROC AUC at {LEFT_OUT:.0f} GeV: {auc:.3f}')
    assert auc >= AUC_MIN


def test_reload_same_predictions(workflow):
    "The saved ensemble, reloaded, predicts exactly what it predicted before saving."
    w = workflow
    for i, (ens, name) in enumerate(zip(w['ensembles'], w['names'])):
        reloaded = Ensemble.from_save(name)
        assert len(reloaded) == N_MODELS
        with FoldYielder(_test_set(w, i)) as fy:
            before = _pred_at_mass(ens, fy, LEFT_OUT, 'pred_before')
            after = _pred_at_mass(reloaded, fy, LEFT_OUT, 'pred_after')
        np.testing.assert_allclose(after, before, rtol=1e-6)
        x = np.random.default_rng(1).normal(size=(64, len(w['cont_feats']))).astype(np.float32)
        np.testing.assert_allclose(reloaded.predict(x, verbose=False), ens.predict(x, verbose=False), rtol=1e-6)
