"The README's quick start must stay true: run its Python block in a scratch directory."
import os, re, subprocess, sys
from pathlib import Path

README = Path(__file__).parent.parent/'README.md'

def test_quick_start_runs(tmp_path):
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)
    assert len(blocks) == 1, 'expected exactly one Python block (the quick start) in README.md'
    script = tmp_path/'quick_start.py'
    script.write_text(blocks[0])
    env = {**os.environ, 'MPLBACKEND': 'Agg'}
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    auc = float(re.search(r'AUC on the training file: ([0-9.]+)', res.stdout).group(1))
    assert auc > 0.8, f'quick-start ensemble separates signal from background poorly: AUC {auc}'
    assert (tmp_path/'train.hdf5').exists() and (tmp_path/'input_pipe.pkl').exists()
    assert sorted(p.name for p in (tmp_path/'train_weights').iterdir() if p.is_dir()) == ['model_id_0', 'model_id_1', 'model_id_2']
