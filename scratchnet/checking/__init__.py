"""Checking gradients: the oracle interface (oracle), central differences (central_differences), float32 rounding
bounds (roundoff), and agreement: the one relative_error and the one table of tolerances that gradcheck, explain,
the grader, torch_ref.compare and the tests all read.

May import: scratchnet.errors, engine. Never shell/, fast/, run/, mnist/, teaching/, grade/.
"""
