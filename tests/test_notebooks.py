"Runs every notebook in `nbs/` as one pytest test, skipping cells flagged `slow` or `notest`."
from pathlib import Path
import os
import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

NBS = sorted((Path(__file__).parent.parent/'nbs').glob('[0-9]*.ipynb'))

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    os.environ.setdefault('MPLBACKEND', 'Agg')
    ok, secs = run_notebook(nb, skip_flags=['slow', 'notest'], showerr=True)
    assert ok, f'notebook {nb.name} failed (see stderr for the traceback)'
