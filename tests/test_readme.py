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


# The README's other claims that a test can check: links, badges, versions, the notebook map and the tutorials.
ROOT = README.parent


def _settings() -> dict:
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(ROOT/'settings.ini')
    return dict(cfg['DEFAULT'])


def _links(text: str) -> list:
    "Targets of the Markdown links and images in `text`."
    return re.findall(r'\]\(([^)\s]+)\)', text)


def test_relative_links_exist():
    local = [t for t in _links(README.read_text()) if not re.match(r'[a-z]+://', t)]
    assert local, 'expected links to files of the repository'
    missing = [t for t in local if not (ROOT/t.split('#')[0]).exists()]
    assert not missing, f'README links to files that do not exist: {missing}'


def test_header_image_is_a_small_png():
    img = re.search(r'!\[[^\]]*\]\(([^)]+)\)', README.read_text()).group(1)
    data = (ROOT/img).read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', f'{img} is not a PNG'
    assert 5_000 < len(data) < 300_000, f'{img}: {len(data)} bytes'


def test_tutorial_table_and_colab_badges():
    text, repo = README.read_text(), _settings()['git_url'].removeprefix('https://github.com/')
    tutorials = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT/'nbs'/'tutorials').glob('[0-9]*.ipynb'))
    linked = sorted(set(t for t in _links(text) if t.startswith('nbs/tutorials/') and t.endswith('.ipynb')))
    assert linked == tutorials, f'README links tutorials {linked}, nbs/tutorials holds {tutorials}'
    badges = sorted(re.findall(r'https://colab\.research\.google\.com/github/(\S+?)/blob/main/(\S+?\.ipynb)', text))
    assert badges == [(repo, t) for t in tutorials], f'Colab badges {badges} should point at {repo} for each of {tutorials}'


def test_every_tutorial_installs_in_colab_and_reads_its_size():
    git_url, torch_spec = _settings()['git_url'], re.search(r'TORCH_SPEC := (\S+)', (ROOT/'Makefile').read_text()).group(1)
    for p in sorted((ROOT/'nbs'/'tutorials').glob('[0-9]*.ipynb')):
        code = [''.join(c['source']) for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'code']
        first = code[0]
        assert "if 'google.colab' in sys.modules:" in first, f'{p.name}: the first cell should install only in Colab'
        assert f'git+{git_url}' in first and torch_spec in first, f'{p.name}: the first cell should install {torch_spec} and lumin from {git_url}'
        assert 'LUMIN_TUTORIAL_SIZE' in code[1], f'{p.name}: the second cell should read LUMIN_TUTORIAL_SIZE'


def test_versions_and_commands_match_the_build():
    text, make = README.read_text(), (ROOT/'Makefile').read_text()
    torch_ver = re.search(r'TORCH_SPEC := torch==(\S+)', make).group(1)
    assert f'PyTorch {torch_ver}' in text, f'README should name the PyTorch version the Makefile installs ({torch_ver})'
    assert f"Python {_settings()['min_python']}+" in text, 'README should name settings.ini min_python'
    assert 'pip install -e ".[dev]"' in text and '-e ".[dev]"' in make
    assert re.search(r'^demo:.*\n\t\$\(PY\) examples/demo\.py', make, flags=re.M), 'make demo should run examples/demo.py'
    assert (ROOT/'examples'/'demo.py').is_file()
    for target in ('demo', 'test', 'test-browser', 'bench'): assert re.search(rf'^{target}:', make, flags=re.M), f'Makefile lacks {target}'


def test_notebook_map_names_existing_notebooks_and_their_modules():
    text = README.read_text()
    table = text[text.index('| notebook | module |'):]
    table = table[:table.index('\n\n')]
    n_checked = 0
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip('|').split('|')]
        names = re.findall(r'`([0-9]{2}[a-z]?_[a-z0-9_]+)`', cells[0])
        for name in names:
            nbs = list((ROOT/'nbs').glob(f'{name}.ipynb'))
            assert len(nbs) == 1, f'the notebook map names {name}, which is not a notebook in nbs/'
            n_checked += 1
        mod = re.fullmatch(r'`(lumin(?:\.[a-z_]+)+)`', cells[1]) if len(cells) > 1 else None
        if mod and len(names) == 1:
            src = (ROOT/'nbs'/f'{names[0]}.ipynb').read_text()
            exp = re.search(r'#\| *default_exp +([\w.]+)', src).group(1).removesuffix('.__init__')
            assert f'lumin.{exp}' == mod.group(1), f'{names[0]} exports lumin.{exp}, the map says {mod.group(1)}'
    chapter_nbs = {p.stem for p in (ROOT/'nbs').glob('[0-9]*.ipynb')}
    named = set(re.findall(r'`([0-9]{2}[a-z]?_[a-z0-9_]+)`', table))
    assert n_checked >= 40 and not (named - chapter_nbs)
