"""Glue for Snakemake and DVC: code fingerprints, targets, check files, the lock, dvc.lock, launch."""
