"""Fold-file benchmarks: write and read throughput at 1e6 events x 30 features, and peak memory while
iterating the folds of a >= 1 GB fold file one at a time.

Run: `.venv/bin/python bench/bench_foldfile.py` (about a minute; needs ~2.5 GB free disk in the temp dir).
Writes its figures to bench/_out/foldfile.md. Temporary files are deleted afterwards.
"""
from pathlib import Path

from _report import write_report
import importlib.util, json, os, platform, subprocess, sys, tempfile, time

import h5py
import numpy as np
import pandas as pd

from lumin.data_processing.file_proc import add_meta_data, df2foldfile, fold2foldfile

N_EVENTS, N_FEATS, N_FOLDS = 1_000_000, 30, 10
BIG_EVENTS, BIG_FOLDS = 9_000_000, 10      # 9e6 x 30 float32 inputs = 1.08 GB, plus targets and weights
OUT = Path(__file__).parent/'_out'/'foldfile.md'

# Runs in a fresh interpreter: import the libraries, note the baseline peak RSS, then read every fold in turn.
READER = r'''
import json, resource, sys, time
import h5py, numpy as np
import lumin.data_processing.file_proc
def peak_kb():
    # VmHWM: this process's own peak RSS. ru_maxrss is kept across fork+exec, so in a child started from a big
    # parent it would report the parent's size; it is only the fallback where /proc is missing.
    try: return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
    except (OSError, StopIteration): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path, mode = sys.argv[1], sys.argv[2]
if mode != 'h5py':
    from lumin.nn.data.fold_yielder import FoldYielder  # imports torch: part of the baseline, not of reading folds
    fy = FoldYielder(path)
base, fold_bytes, total, start = peak_kb(), 0, 0., time.perf_counter()
if mode == 'h5py':
    with h5py.File(path, 'r') as f:
        for i in range(len([k for k in f if k.startswith('fold_')])):
            data = {k: f[f'fold_{i}/{k}'][:] for k in ('inputs', 'targets', 'weights')}
            fold_bytes = max(fold_bytes, sum(a.nbytes for a in data.values()))
            total += float(data['inputs'][:, 0].sum())
            del data
else:
    for i in range(fy.n_folds):
        data = fy.get_fold(i)
        arrs = [a for a in data.values() if isinstance(a, np.ndarray)]
        fold_bytes = max(fold_bytes, sum(a.nbytes for a in arrs))
        del data, arrs
print(json.dumps({'base_kb': base, 'peak_kb': peak_kb(), 'fold_bytes': fold_bytes, 'secs': time.perf_counter() - start}))
'''


def make_df(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, N_FEATS)).astype(np.float32), columns=[f'f{i}' for i in range(N_FEATS)])
    df['target'] = rng.integers(0, 2, n)
    df['weight'] = rng.uniform(0.5, 1.5, n).astype(np.float32)
    return df


def payload_bytes(n: int) -> int:
    "Bytes of data stored per file: float32 inputs, int64 targets, float32 weights."
    return n * (N_FEATS * 4 + 8 + 4)


def bench_write_read(tmp: Path, compression=None, repeats: int = 3) -> dict:
    df = make_df(N_EVENTS)
    feats = [f'f{i}' for i in range(N_FEATS)]
    w_times, r_times = [], []
    for r in range(repeats):
        start = time.perf_counter()
        path = df2foldfile(df, N_FOLDS, feats, [], 'target', tmp/'w', 'int', wgt_feat='weight', seed=r,
                           compression=compression, verbose=False)
        w_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        n = 0
        with h5py.File(path, 'r') as f:
            for i in range(N_FOLDS):
                x, y, w = (f[f'fold_{i}/{k}'][:] for k in ('inputs', 'targets', 'weights'))
                n += len(x)
        r_times.append(time.perf_counter() - start)
        assert n == N_EVENTS
    size = path.stat().st_size
    path.unlink()
    mb = payload_bytes(N_EVENTS) / 1e6
    w, rd = min(w_times), min(r_times)
    return {'compression': compression or 'none', 'write_s': w, 'write_ev_s': N_EVENTS / w, 'write_mb_s': mb / w,
            'read_s': rd, 'read_ev_s': N_EVENTS / rd, 'read_mb_s': mb / rd, 'file_mb': size / 1e6}


def write_big(path: Path) -> float:
    "Write a >= 1 GB fold file one fold at a time (never holding more than a fold in memory); return its size."
    per_fold = BIG_EVENTS // BIG_FOLDS
    feats = [f'f{i}' for i in range(N_FEATS)]
    with h5py.File(path, 'w') as f:
        for i in range(BIG_FOLDS):
            fold2foldfile(make_df(per_fold, seed=100 + i), f, i, feats, [], 'target', 'int', wgt_feat='weight')
        add_meta_data(f, feats + ['target', 'weight'], feats, [], None, 'target', 'weight', n_folds=BIG_FOLDS)
    return path.stat().st_size


def read_rss(path: Path, mode: str) -> dict:
    res = subprocess.run([sys.executable, '-c', READER, str(path), mode], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix='lumin_bench_') as tmp:
        tmp = Path(tmp)
        print(f"write/read {N_EVENTS:.0e} events x {N_FEATS} features ...")
        rows = [bench_write_read(tmp), bench_write_read(tmp, 'lzf', repeats=1), bench_write_read(tmp, 'gzip', repeats=1)]
        print(f"writing a big fold file ({BIG_EVENTS:.0e} events x {N_FEATS} features) ...")
        big = tmp/'big.hdf5'
        start = time.perf_counter()
        big_size = write_big(big)
        big_write_s = time.perf_counter() - start
        rss = {'h5py': read_rss(big, 'h5py')}
        if importlib.util.find_spec('lumin.nn.data.fold_yielder') is not None:
            try: rss['FoldYielder'] = read_rss(big, 'fy')
            except subprocess.CalledProcessError as e: print(f"FoldYielder read failed: {e.stderr[-500:]}")
        big.unlink()
    lines = ['# Fold-file benchmarks (bench/bench_foldfile.py)', '',
             f'Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, '
             f'h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}. Files in {tempfile.gettempdir()}; '
             'reads are from the page cache (warm), best of 3 runs for the uncompressed row.', '',
             f'## Write and full read: {N_EVENTS:.0e} events x {N_FEATS} float32 features, {N_FOLDS} folds', '',
             'MB/s counts the stored payload (float32 inputs + int64 targets + float32 weights = '
             f'{payload_bytes(N_EVENTS) / 1e6:.0f} MB). Write = `df2foldfile` from an in-memory DataFrame; read = '
             'every fold\'s inputs, targets and weights with h5py.', '',
             '| compression | write s | write events/s | write MB/s | read s | read events/s | read MB/s | file MB |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['compression']} | {r['write_s']:.2f} | {r['write_ev_s']:.3g} | {r['write_mb_s']:.0f} | "
                     f"{r['read_s']:.2f} | {r['read_ev_s']:.3g} | {r['read_mb_s']:.0f} | {r['file_mb']:.0f} |")
    lines += ['', f'## Peak memory reading a {big_size / 1e9:.2f} GB fold file fold by fold', '',
              f'{BIG_EVENTS:.0e} events x {N_FEATS} features in {BIG_FOLDS} folds, written fold by fold in '
              f'{big_write_s:.1f} s. Read in a fresh interpreter; peak RSS from the child\'s own high-water mark (VmHWM in /proc/self/status; '
              '`resource.getrusage` ru_maxrss is inherited across fork+exec from the large parent, so it is only '
              'the fallback), baseline = peak after importing the reader (h5py, or lumin FoldYielder with torch) and opening the file. Goal: peak above baseline <= 1.5x one fold.', '',
              '| reader | baseline RSS MB | peak RSS MB | peak - baseline MB | one fold MB | (peak - baseline) / fold | read s |',
              '|---|---|---|---|---|---|---|']
    for name, r in rss.items():
        extra = (r['peak_kb'] - r['base_kb']) * 1024
        lines.append(f"| {name} | {r['base_kb'] / 1024:.0f} | {r['peak_kb'] / 1024:.0f} | {extra / 1e6:.0f} | "
                     f"{r['fold_bytes'] / 1e6:.0f} | {extra / r['fold_bytes']:.2f} | {r['secs']:.1f} |")
    if 'FoldYielder' not in rss: lines += ['', 'lumin.nn.data.fold_yielder could not be imported: only the plain h5py read path was measured.']
    write_report(OUT.name, '\n'.join(lines))


if __name__ == '__main__':
    main()
