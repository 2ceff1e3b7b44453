"""The one HP/FT/evaluate loop, one setting at one seed, BatchNorm handling, successive halving."""
