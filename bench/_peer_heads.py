"""Run by bench_heads.py in the LUMIN 0.9.1 virtualenv (see ../shared/PEER.md): train and predict the same head
configurations with the original library on the same events, and print one JSON line of times.

Usage: <peer python> _peer_heads.py DATA.npz N_PAIRS BS  (run from a directory outside the repository, so that
`import lumin` finds the original package)."""
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
    data, n_pairs, bs = np.load(sys.argv[1], allow_pickle=False), int(sys.argv[2]), int(sys.argv[3])
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
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        fys = {}
        for row_wise in (True, False):
            df2foldfile(df, int(data['n_folds']), cont_feats=['ht'], cat_feats=[], targ_feats='gen_target', wgt_feat='gen_weight',
                        matrix_vecs=vecs, matrix_feats_per_vec=FPV, matrix_row_wise=row_wise, savename=Path(tmp)/f'peer_{row_wise}',
                        targ_type='int', strat_key='gen_target')
            fys[row_wise] = FoldYielder(Path(tmp)/f'peer_{row_wise}.hdf5')
        for name, head in heads.items():
            fy = fys[head.keywords.get('row_wise', True)]
            fold0 = fy.get_fold(0)['inputs']
            mb = ModelBuilder('classification', n_out=1, cont_feats=mfeats, head=head, opt_args={'opt': 'adam', 'lr': 1e-3},
                              body=partial(FullyConnected, act='swish', width=64, depth=2))
            tt, tp = [], []
            for _ in range(n_pairs):
                torch.manual_seed(0)
                t = time.perf_counter()
                model = Model(mb)
                model.fit(1, fy, bs, val_idx=fy.n_folds-1, visible_bar=False)
                tt.append(time.perf_counter()-t)
                t = time.perf_counter()
                model.predict(fold0, bs=1024)
                tp.append(time.perf_counter()-t)
            out[name] = {'train_s': min(tt), 'predict_s': min(tp), 'n_pred': len(fold0[1])}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
