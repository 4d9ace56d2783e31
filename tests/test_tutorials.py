"Runs every tutorial in `nbs/tutorials/` top to bottom at CI size (`LUMIN_TUTORIAL_SIZE`), every cell included."
from pathlib import Path
import os
import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

TUTORIALS = sorted((Path(__file__).parent.parent/'nbs'/'tutorials').glob('[0-9]*.ipynb'))
CI_SIZE = 4000  # events per tutorial: each runs in well under a minute on one CPU core
CI_SIZES = {'02_pnn_resonance_search': 8000}  # six masses: fewer events leave too few signal events per mass and half


def test_tutorials_found():
    "The glob finds the tutorials (an empty folder would pass the parametrised test vacuously)."
    assert len(TUTORIALS) >= 1


@pytest.mark.parametrize('nb', TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial(nb, monkeypatch):
    monkeypatch.setenv('LUMIN_TUTORIAL_SIZE', str(CI_SIZES.get(nb.stem, CI_SIZE)))
    monkeypatch.setenv('MPLBACKEND', os.environ.get('MPLBACKEND', 'Agg'))
    ok, secs = run_notebook(nb, skip_flags=[], showerr=True)  # no skip flags: a tutorial hides no cell
    assert ok, f'tutorial {nb.name} failed at LUMIN_TUTORIAL_SIZE={os.environ["LUMIN_TUTORIAL_SIZE"]} (see stderr)'
