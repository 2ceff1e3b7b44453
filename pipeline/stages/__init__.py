"""One module per stage; each exposes run(study, ..., rt) and writes its outputs atomically."""
