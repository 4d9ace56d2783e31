"Shared by the bench scripts: write a markdown report to bench/_out/ atomically and echo it."
import os, tempfile
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent/'_out'

def write_report(name: str, text: str) -> Path:
    "Write `text` to bench/_out/`name` through a temporary file and `os.replace`, print it, return the path."
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    text = text.rstrip('\n') + '\n'
    fd, tmp = tempfile.mkstemp(dir=OUT_DIR, prefix=f'.{name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f: f.write(text)
        os.replace(tmp, OUT_DIR/name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(text, end='')
    return OUT_DIR/name
