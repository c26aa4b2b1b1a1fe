"""The fast paths: the fused training step on the CPU (fused_cpu: numpy's own OpenBLAS through ctypes, blas) and
on a GPU (fused: CuPy kernels, kernels; cuBLAS, cublas; CUDA graphs), BLAS threads (threads), and the choice of
step a run trains with (choose); what the fused steps share, which model, which batches, how a divergence is
reported, is rules. Every fast step offers the reference step's interface and is tested against it.

May import: scratchnet.errors, shell, engine. Never checking/, mnist/, run/, teaching/, grade/.
"""
