"The README's quick start must stay true: run its Python block in a scratch directory, then run it again there."
import json, os, re, subprocess, sys
from pathlib import Path

README = Path(__file__).parent.parent/'README.md'
MODEL_DIRS = ['model_id_0', 'model_id_1', 'model_id_2']
RESULT_FILES = ['cycle_file.json', 'cycle_file.pkl', 'manifest.json', 'results_file.json', 'results_file.pkl']


def _run(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, 'MPLBACKEND': 'Agg'}
    res = subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    auc = float(re.search(r'AUC on the training file: ([0-9.]+)', res.stdout).group(1))
    assert auc > 0.8, f'quick-start ensemble separates signal from background poorly: AUC {auc}'
    return res


def test_quick_start_runs_and_reruns(tmp_path):
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)
    assert len(blocks) == 1, 'expected exactly one Python block (the quick start) in README.md'
    script = tmp_path/'quick_start.py'
    script.write_text(blocks[0])
    first = _run(script, tmp_path)
    weights = tmp_path/'train_weights'
    assert (tmp_path/'train.hdf5').exists() and (tmp_path/'input_pipe.pkl').exists()
    assert sorted(p.name for p in weights.iterdir() if p.is_dir()) == MODEL_DIRS
    assert sorted(p.name for p in weights.iterdir() if p.is_file()) == RESULT_FILES
    assert 'kept the previous run' not in first.stderr
    first_results = json.loads((weights/'results_file.json').read_text())

    # Re-running the same cell works, and keeps the first run aside with one notice saying where it went
    second = _run(script, tmp_path)
    notices = [l for l in second.stderr.splitlines() if 'UserWarning: train_models:' in l]
    assert len(notices) == 1 and 'kept the previous run in train_weights aside as *.prev-1 (3 model directories, 4 results files)' in notices[0], second.stderr[-2000:]
    assert sorted(p.name for p in weights.iterdir() if p.is_dir()) == sorted(MODEL_DIRS + [f'{d}.prev-1' for d in MODEL_DIRS])
    kept = json.loads((weights/'results_file.json.prev-1').read_text())
    assert [r['loss'] for r in kept] == [r['loss'] for r in first_results]
    assert [Path(r['path']) for r in kept] == [Path('train_weights')/f'{d}.prev-1'/f'train_{i}.h5' for i, d in enumerate(MODEL_DIRS)]
    assert all((tmp_path/r['path']).is_file() for r in kept)
