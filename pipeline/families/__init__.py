"""Task families. Each is one module exporting FAMILY, an instance of base.Family.

A family's `model` and `data` blocks are described in configs.py, which imports no
torch: get_config is all that params validation needs, and get_family (the family's
module, torch and all) is for the stages. A fourth family is one new file here, its two
classes in configs.py, and one line in _MODULES and in configs.CONFIGS.
"""

from __future__ import annotations

import importlib
from functools import cache

_MODULES = {
    "classification": "pipeline.families.classification",
    "molecules": "pipeline.families.molecules",
    "segmentation": "pipeline.families.segmentation",
}


def known_families() -> list[str]:
    return sorted(_MODULES)


def get_config(name: str):
    """A family's ModelCfg, DataCfg and backbone_from (configs.FamilyConfig), without torch."""
    from pipeline.families.configs import CONFIGS

    return CONFIGS[name]


@cache
def get_family(name: str):
    return importlib.import_module(_MODULES[name]).FAMILY
