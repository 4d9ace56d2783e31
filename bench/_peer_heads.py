"""Run by bench_heads.py in the LUMIN 0.9.1 virtualenv (see ../shared/PEER.md): train and predict the same head
configurations with the original library on the same events, on request, so that its runs alternate with lumin's.

Usage: <peer python> _peer_heads.py DATA.npz BS  (run from a directory outside the repository, so that `import lumin`
finds the original package). Prints `ready` and the JSON list of its head names, then reads one head name per line from
stdin: `train NAME` answers with one JSON line `{"train_s": ...}`, the wall time of one `Model.fit` epoch of a fresh model
(seed 0); `predict NAME` with `{"predict_s": ..., "n_pred": ...}`, one `Model.predict` of fold 0 with the last model
trained for NAME. An empty line ends it. Anything the library prints goes to stderr."""
import json, sys, tempfile, time, warnings
from functools import partial
from pathlib import Path
import numpy as np
import pandas as pd
import torch
from torch import nn
warnings.filterwarnings('ignore')
from lumin.data_processing.file_proc import df2foldfile
from lumin.nn.data.fold_yielder import FoldYielder
from lumin.nn.models.model_builder import ModelBuilder
from lumin.nn.models.model import Model
from lumin.nn.models.blocks.head import RecurrentHead, AbsConv1dHead, GNNHead
from lumin.nn.models.blocks.gnn_blocks import GravNet, InteractionNet, GraphCollapser
from lumin.nn.models.blocks.conv_blocks import AdaptiveAvgMaxConcatPool1d
from lumin.nn.models.blocks.body import FullyConnected

FPV = ['px', 'py', 'pz', 'E']


class ConvHead(AbsConv1dHead):
    def get_layers(self, in_c, act='relu', bn=False, **kargs):
        return nn.Sequential(self.get_conv1d_block(in_c, 32, 3, act=act), self.get_conv1d_res_block(32, 32, 3, act=act),
                             AdaptiveAvgMaxConcatPool1d())


def main():
    out, sys.stdout = sys.stdout, sys.stderr  # answers on the real stdout, the library's prints out of the way
    data, bs = np.load(sys.argv[1], allow_pickle=False), int(sys.argv[2])
    torch.set_num_threads(1)
    vecs = [str(v) for v in data['vecs']]
    mfeats = [f'{v}_{f}' for v in vecs for f in FPV]
    mat = np.nan_to_num(data['matrix'], nan=0.)/100.  # 0.9.1 has no padding mask: absent objects as zero rows
    df = pd.DataFrame(mat.reshape(len(mat), -1), columns=mfeats)
    df['ht'] = 0.
    df['gen_target'], df['gen_weight'] = data['targets'], 1.
    kw = dict(vecs=vecs, feats_per_vec=FPV)
    heads = {
        'RecurrentHead (GRU, bidir.)': partial(RecurrentHead, depth=1, width=32, rnn=nn.GRU, bidirectional=True, **kw),
        'conv head': partial(ConvHead, row_wise=False, **kw),  # 0.9.1's conv head reads column-wise matrices
        'GNNHead (GravNet)': partial(GNNHead, extractor=partial(GravNet, cat_means=True, f_slr_depth=1, n_s=4, n_lr=16, k=4,
                                                                f_out_depth=1, n_out=[32, 32]),
                                     collapser=partial(GraphCollapser, flatten=False, agg_methods=['mean', 'max']), **kw),
    }
    # 0.9.1's GNNHead with its graph InteractionNet fails on this row-wise matrix inside its forward
    # ("mat1 and mat2 shapes cannot be multiplied (2048x4 and 8x56)"), so InteractionNet has no peer figure.
    with tempfile.TemporaryDirectory() as tmp:
        fys = {}
        for row_wise in (True, False):
            df2foldfile(df, int(data['n_folds']), cont_feats=['ht'], cat_feats=[], targ_feats='gen_target', wgt_feat='gen_weight',
                        matrix_vecs=vecs, matrix_feats_per_vec=FPV, matrix_row_wise=row_wise, savename=Path(tmp)/f'peer_{row_wise}',
                        targ_type='int', strat_key='gen_target')
            fys[row_wise] = FoldYielder(Path(tmp)/f'peer_{row_wise}.hdf5')
        print('ready', file=out, flush=True)
        print(json.dumps(list(heads)), file=out, flush=True)
        models = {}
        for line in sys.stdin:
            if not line.strip(): break
            cmd, name = line.strip().split(' ', 1)
            head = heads[name]
            fy = fys[head.keywords.get('row_wise', True)]
            if cmd == 'train':
                mb = ModelBuilder('classification', n_out=1, cont_feats=mfeats, head=head, opt_args={'opt': 'adam', 'lr': 1e-3},
                                  body=partial(FullyConnected, act='swish', width=64, depth=2))
                torch.manual_seed(0)
                t = time.perf_counter()
                models[name] = Model(mb)
                models[name].fit(1, fy, bs, val_idx=fy.n_folds-1, visible_bar=False)
                res = {'train_s': time.perf_counter()-t}
            else:
                fold0 = fy.get_fold(0)['inputs']
                t = time.perf_counter()
                models[name].predict(fold0, bs=1024)
                res = {'predict_s': time.perf_counter()-t, 'n_pred': len(fold0[1])}
            print(json.dumps(res), file=out, flush=True)


if __name__ == '__main__':
    main()
