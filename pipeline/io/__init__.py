"""Files: atomic writes, artifacts and checkpoints, input digests, strict YAML, the file layout."""
