"""Side-by-side benchmarks: scratchnet against PyTorch on the same work (python -m benchmarks.run)."""
