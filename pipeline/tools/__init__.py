"""Commands outside the job graph: benchmarks, GPU figures, run comparisons, the README, env files, a new study."""
