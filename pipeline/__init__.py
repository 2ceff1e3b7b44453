"""taskhead: how to prepare your task head for finetuning (Ren et al., ICLR 2023).

The package holds the study's stages (pretrain, probe, finetune, evaluate,
aggregate, compare), one generic training loop, and one module per task family.
It never imports snakemake or dvc: they schedule it through `python -m pipeline`.
"""

__version__ = "0.1.0"
