"""Datasets: built-in offline data (generated deterministically or shipped in packages)
and the real loaders (torchvision, OGB, VOC), which never download."""
