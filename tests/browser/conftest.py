"""Keep the real-browser tests out of a plain `pytest tests`: they need Chromium and a JupyterLab server and take
a minute or more (the quick start, then a tutorial, on one server and one browser). They run when this folder or a
file in it is named on the command line (`pytest tests/browser`, as `make test-browser` does) or when LUMIN_BROWSER=1
is set."""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

def _named(config) -> bool:
    "Whether this folder, or something inside it, was named on the command line."
    for arg in config.args:
        path = Path(str(arg).split('::')[0]).resolve()
        if path == HERE or HERE in path.parents: return True
    return False

def pytest_ignore_collect(collection_path, config):
    if collection_path.name == 'conftest.py' or os.environ.get('LUMIN_BROWSER') == '1' or _named(config): return None
    return True
