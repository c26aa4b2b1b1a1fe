"""python -m scratchnet.exercise: write the backprop hand-out (or its solution) for students.

    python -m scratchnet.exercise --out hw                        # hw/backprop_rows.py, _columns.py, _per_sample.py,
                                                                  # and hw/grading.toml (points, visibility)
    python -m scratchnet.exercise --out hw --layout columns       # one layout only
    python -m scratchnet.exercise --out key --solution            # the filled-in versions, for the teacher
    python -m scratchnet.grade hw/backprop_rows.py                # every equation: not yet implemented

Each file holds forward, cross_entropy and quadratic (BP1), backward ((BP2)–(BP4)) and sgd_update, with
the tutorial's docstrings, shapes and equations, and TODO bodies that raise NotImplementedError; its
LAYOUT line tells the grader which layout it is in (scratchnet/grade/handout.py has the three). The hand-out
states what a submission may use (scratchnet/grade/policy.py). grading.toml, written beside it unless one is
there, gives each equation's points and Gradescope visibility: edit it, then pass it to the grader with
--config (scratchnet/grade/points.py).
"""

import argparse
import os
import shlex

from scratchnet.errors import UsageError
from scratchnet.grade.handout import LAYOUTS, solution_source, stub_source
from scratchnet.grade.points import toml_text
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import info, run_cli
from scratchnet.shell.fileio import atomic_write, check_outputs


def file_name(layout, solution):
    return f"backprop_{layout.replace('-', '_')}{'_solution' if solution else ''}.py"


def build_parser():
    p = OneLineParser(prog="python -m scratchnet.exercise", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument("--layout", choices=(*LAYOUTS, "all"), default="all",
                   help="rows (batch-first, PyTorch's), columns (the tutorial's and Ng's), per-sample (Nielsen's), "
                        "or all three (default)")
    p.add_argument("--solution", action="store_true",
                   help="write the filled-in solution instead of the hand-out (named backprop_<layout>_solution.py)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist (default: refuse)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    layouts = LAYOUTS if args.layout == "all" else (args.layout,)
    paths = [os.path.join(args.out, file_name(layout, args.solution)) for layout in layouts]
    if not args.out:
        raise UsageError("--out is empty: give a folder (. for the current one)")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file: give a folder")
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} exists (a student's work?): choose another --out, or pass --force")
    check_outputs([(path, "--out") for path in paths])
    for layout, path in zip(layouts, paths, strict=True):
        with atomic_write(path, "w") as f:
            f.write(solution_source(layout) if args.solution else stub_source(layout))
        info(f"wrote {path}")
    config = os.path.join(args.out, "grading.toml")
    if not os.path.exists(config):  # the teacher's edits are kept, even with --force
        with atomic_write(config, "w") as f:
            f.write(toml_text())
        info(f"wrote {config}")
    info(f"check it with: python -m scratchnet.grade {shlex.quote(paths[0])} --config {shlex.quote(config)}")


if __name__ == "__main__":
    run_cli(main)
