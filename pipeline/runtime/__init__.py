"""Per-job runtime: the device, start-up costs, seeds, the fast CPU paths, the machine record, stopping."""
