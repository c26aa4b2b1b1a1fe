"""python -m scratchnet.grade: a diagnosing autograder for students' backprop (see scratchnet/grade/grader.py).

    python -m scratchnet.grade hw/backprop_rows.py
    python -m scratchnet.grade submissions/*.py --json > grades.json

May import: scratchnet.errors, shell, engine, checking. Never run/ or teaching/ (a grader needs no training run),
nor torch_ref (a second oracle is passed in). child.py, the process that runs a submission, imports no scratchnet
at all: the standard library, NumPy and channel.py only.
"""

from scratchnet.grade.grader import grade
from scratchnet.grade.report import Report

__all__ = ["grade", "Report"]
