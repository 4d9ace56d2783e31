"Importing lumin must not import the heavy optional libraries; they load when a function first needs them."
import json, pkgutil, subprocess, sys
from typing import Any
import pytest
import lumin

HEAVY = ('sklearn', 'scipy', 'matplotlib', 'uproot', 'pandas')
# Analysis modules whose every function works on DataFrames, random forests or scipy statistics, so importing those
# libraries up front is fair. The training path (model, yielders, train_models, ensemble) stays light: tested below.
EXEMPT = {'lumin.data_processing.hep_proc': 'pandas', 'lumin.data_processing.toy_data': 'pandas',
          'lumin.utils.statistics': 'scipy',
          'lumin.optimisation.features': 'sklearn, scipy, pandas', 'lumin.utils.data': 'sklearn, scipy, pandas',
          'lumin.plotting.data_viewing': 'scipy, pandas', 'lumin.plotting.results': 'scipy, pandas',
          'lumin.plotting.interpretation': 'sklearn, scipy, pandas'}
MODULES = sorted(m.name for m in pkgutil.walk_packages(lumin.__path__, 'lumin.')
                 if not m.ispkg and not m.name.startswith('lumin._') and m.name not in EXEMPT)

def _run(code: str) -> Any:
    "Run `code` in a fresh interpreter and return the JSON it prints last."
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])

def _loaded_after(stmt: str) -> list:
    "Which of `HEAVY` are in `sys.modules` after running `stmt` in a fresh interpreter."
    return _run(f"import json, sys\n{stmt}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")

@pytest.mark.parametrize('module', ['lumin.nn.training.train', 'lumin.nn.ensemble.ensemble', 'lumin.nn.models.model',
                                    'lumin.nn.data.fold_yielder'])
def test_import_is_light(module):
    assert _loaded_after(f'import {module}') == []

def test_every_module_is_light():
    "Import the modules one after another in one interpreter and name the first one that pulls in a heavy library."
    code = f"""import importlib, json, sys
culprit = None
for m in {MODULES!r}:
    importlib.import_module(m)
    heavy = [h for h in {HEAVY!r} if h in sys.modules]
    if heavy:
        culprit = [m, heavy]
        break
print(json.dumps(culprit))"""
    assert len(MODULES) > 20
    assert _run(code) is None

def test_loaded_on_first_use():
    "The deferred imports happen when needed: sklearn when a pipeline is built, matplotlib when a figure is drawn."
    code = '''import json, sys
import numpy as np
from lumin.data_processing.pre_proc import get_pre_proc_pipes
from lumin.plotting.training import plot_train_history
before = [m for m in ('sklearn', 'matplotlib') if m in sys.modules]
pipe = get_pre_proc_pipes()[0].fit(np.array([[1.], [3.]]))
fig = plot_train_history([{'trn_loss': [1., .5], 'val_loss': [1.2, .7]}])
print(json.dumps({'before': before, 'after': [m for m in ('sklearn', 'matplotlib') if m in sys.modules],
                  'scaled': pipe.transform(np.array([[1.], [3.]]))[:, 0].tolist(), 'fig': type(fig).__name__}))'''
    res = _run(code)
    assert res == {'before': [], 'after': ['sklearn', 'matplotlib'], 'scaled': [-1., 1.], 'fig': 'Figure'}
