"""OGB's atom and bond encoders (ogb.graphproppred.mol_encoder), rebuilt here.

Importing OGB's module runs `ogb.graphproppred`'s package (scikit-learn, pandas) and
`ogb`'s update check, a thread that asks PyPI over the network, in every molecules job.
These classes are the same modules: same parameter names, shapes, initialisation
order and forward (tests/test_molecules.py checks them against OGB's).
"""

from __future__ import annotations

from torch import nn

# ogb.utils.features.get_atom_feature_dims() and get_bond_feature_dims(): the category
# counts of OGB's 9 atom and 3 bond columns (smiles2graph), each list plus 'misc'.
ATOM_FEATURE_DIMS = (119, 5, 12, 12, 10, 6, 6, 2, 2)
BOND_FEATURE_DIMS = (5, 6, 2)


def _embeddings(dims, emb_dim: int) -> nn.ModuleList:
    out = nn.ModuleList()
    for dim in dims:
        emb = nn.Embedding(dim, emb_dim)
        nn.init.xavier_uniform_(emb.weight.data)
        out.append(emb)
    return out


def _embed(embeddings: nn.ModuleList, x):
    total = 0
    for i in range(x.shape[1]):
        total += embeddings[i](x[:, i])
    return total


class AtomEncoder(nn.Module):
    """Sum of one embedding per atom feature column."""

    def __init__(self, emb_dim: int):
        super().__init__()
        self.atom_embedding_list = _embeddings(ATOM_FEATURE_DIMS, emb_dim)

    def forward(self, x):
        return _embed(self.atom_embedding_list, x)


class BondEncoder(nn.Module):
    """Sum of one embedding per bond feature column."""

    def __init__(self, emb_dim: int):
        super().__init__()
        self.bond_embedding_list = _embeddings(BOND_FEATURE_DIMS, emb_dim)

    def forward(self, edge_attr):
        return _embed(self.bond_embedding_list, edge_attr)
