"""The fast paths: the fused training step on the CPU (numpy's own OpenBLAS through ctypes) and on a GPU
(CuPy kernels, cuBLAS, CUDA graphs), BLAS threads, and the choice of step a run trains with.

May import: the engine and shell/. Never run/, mnist/, teaching/, grade/. Tested against the reference step.
"""
