"Runs every bench/bench_*.py script in turn (by hand: `make bench`); each writes its figures to bench/_out/."
import subprocess, sys
from pathlib import Path

here = Path(__file__).parent
for script in sorted(here.glob('bench_*.py')):
    print(f'== {script.name}', flush=True)
    subprocess.run([sys.executable, str(script)], check=True)
