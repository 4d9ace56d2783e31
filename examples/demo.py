"""lumin demo: make the built-in toy data, write it to a fold file, and summarise the file.

Run with `make demo` (or `python examples/demo.py`); output goes to ./demo_out/.
"""
from pathlib import Path
import time

import h5py
import numpy as np

from lumin.data_processing.file_proc import check_foldfile, df2foldfile
from lumin.data_processing.toy_data import make_toy_data, toy_cont_feats

OUT_DIR = Path('demo_out')
N_FOLDS = 10
SEED = 0


def write_foldfile(out_dir: Path = OUT_DIR) -> Path:
    "Generate the toy data and write it as a stratified fold file; return its path."
    df = make_toy_data(seed=SEED)
    start = time.perf_counter()
    path = df2foldfile(df, N_FOLDS, cont_feats=toy_cont_feats(df), cat_feats=[], targ_feats='gen_target',
                       savename=out_dir/'toy', targ_type='int', strat_key='gen_target',
                       misc_feats=['res_mass', 'gen_sample', 'event_number'], wgt_feat='gen_weight',
                       matrix_vecs=['l_0', 'l_1', 'j_0', 'j_1'], matrix_feats_per_vec=['pT', 'eta', 'phi', 'E'],
                       matrix_row_wise=True, seed=SEED, verbose=False)
    print(f"Wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {len(df)} events) "
          f"in {time.perf_counter() - start:.2f} s")
    return path


def _wrap(names, width=96, indent=4) -> str:
    "Comma-separated names wrapped to `width` columns."
    lines, line = [], ''
    for name in names:
        piece = name if not line else f', {name}'
        if len(line) + len(piece) > width - indent: lines.append(line + ','); line = name
        else: line += piece
    lines.append(line)
    return '\n'.join(' ' * indent + l for l in lines)


def summarise(path: Path) -> None:
    "Print the fold file's features, targets and per-fold event counts and weight sums by class."
    meta = check_foldfile(path)
    print(f"\n{meta['n_folds']} folds, written by lumin {meta['lumin_version']}")
    print(f"continuous features ({len(meta['cont_feats'])}):\n{_wrap(meta['cont_feats'])}")
    cats = meta['cat_feats']
    print(f"categorical features ({len(cats)}):" + (f"\n{_wrap(cats)}" if cats else " none"))
    print(f"targets: {', '.join(meta['targ_feats'])}   weights: {meta['wgt_feat']}   "
          f"misc: {', '.join(meta['misc_feats'])}")
    mat = meta['matrix_feats']
    if mat:
        print(f"matrix: {len(mat['vecs'])} vectors ({', '.join(mat['vecs'])}) x "
              f"{len(mat['feats_per_vec'])} features ({', '.join(mat['feats_per_vec'])}), "
              f"{'row' if mat['row_wise'] else 'column'}-wise, shape per event {tuple(mat['shape'])}")
    print(f"\n{'fold':>4} {'events':>7} {'bkg':>6} {'sig':>6} {'sig frac':>8} {'sum w bkg':>11} {'sum w sig':>11}")
    tot = np.zeros(4)
    with h5py.File(path, 'r') as f:
        for i in range(meta['n_folds']):
            targ, wgt = f[f'fold_{i}/targets'][:], f[f'fold_{i}/weights'][:].astype(np.float64)
            row = np.array([(targ == 0).sum(), (targ == 1).sum(), wgt[targ == 0].sum(), wgt[targ == 1].sum()])
            tot += row
            print(f"{i:>4} {len(targ):>7} {row[0]:>6.0f} {row[1]:>6.0f} {row[1] / len(targ):>8.3f} "
                  f"{row[2]:>11.2f} {row[3]:>11.4f}")
    n = tot[0] + tot[1]
    print(f"{'all':>4} {n:>7.0f} {tot[0]:>6.0f} {tot[1]:>6.0f} {tot[1] / n:>8.3f} {tot[2]:>11.2f} {tot[3]:>11.4f}")


def main() -> None:
    print("lumin demo: toy data -> fold file")
    path = write_foldfile()
    summarise(path)


if __name__ == '__main__':
    main()
