"""python -m scratchnet.grade: a diagnosing autograder for students' backprop (see scratchnet/grade/grader.py).

    python -m scratchnet.grade hw/backprop_rows.py
    python -m scratchnet.grade submissions/*.py --json > grades.json
"""

from scratchnet.grade.grader import grade
from scratchnet.grade.report import Report

__all__ = ["grade", "Report"]
