"""Checking gradients: the oracle interface, central differences, float32 rounding bounds.

May import: the engine (scratchnet's top-level modules). Never fast/, run/, mnist/, teaching/, grade/.
"""
