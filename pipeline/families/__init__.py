"""Task families. Each is one module exporting FAMILY, an instance of base.Family.

A fourth family is one new file here plus one line in _MODULES.
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


@cache
def get_family(name: str):
    return importlib.import_module(_MODULES[name]).FAMILY
