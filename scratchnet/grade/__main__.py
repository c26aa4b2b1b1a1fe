"""python -m scratchnet.grade: check students' backprop against scratchnet's reference, equation by equation.

    python -m scratchnet.grade hw/backprop_rows.py                       # one submission, as a student reads it
    python -m scratchnet.grade submissions/*.py --json > grades.json     # a class, as data
    python -m scratchnet.grade submission.py --gradescope /autograder/results/results.json
    python -m scratchnet.grade --class submissions/ --out summary/ --jobs auto   # grades.csv, summary.md, class.png
    python -m scratchnet.grade --help
    python -m torch_ref.grade hw/backprop_rows.py                        # the same, torch autograd as a 2nd oracle

Each submission (.py, or .ipynb whose code cells run in order) runs in its own child process, with a time
limit per call and a memory limit (not a security sandbox: grade untrusted code in a container). Exit
status: 0 when every submission passes, 1 when one fails, 2 for a usage error.
"""

import argparse
import json
import os
import sys

from scratchnet.checks import check_seed
from scratchnet.errors import UsageError
from scratchnet.grade.cases import N_CASES
from scratchnet.grade.classrun import grade_class, jobs, run_class
from scratchnet.grade.formats import as_dict, gradescope
from scratchnet.grade.grader import MEMORY_MB, TIME_LIMIT, grade
from scratchnet.grade.handout import LAYOUTS
from scratchnet.grade.points import DEFAULT, read_scoring
from scratchnet.grade.source import submission_paths
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import run_cli
from scratchnet.shell.fileio import atomic_write, check_outputs


def build_parser(prog="python -m scratchnet.grade"):
    p = OneLineParser(prog=prog, description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="submissions: .py files or .ipynb notebooks, or folders of them")
    p.add_argument("--layout", choices=LAYOUTS,
                   help="grade in this layout, whatever the file's LAYOUT line says (default: the file's line)")
    p.add_argument("--cases", type=int, default=N_CASES,
                   help=f"networks to check (default {N_CASES}: the chosen ones; more are drawn at random)")
    p.add_argument("--seed", type=int, default=0,
                   help="other weights and batches for the same networks: an integer in [0, 2**63 − 1] (default 0)")
    p.add_argument("--time-limit", type=float, default=TIME_LIMIT,
                   help=f"seconds each call of a student function may run (default {TIME_LIMIT:g})")
    p.add_argument("--memory-mb", type=int, default=MEMORY_MB,
                   help=f"MiB of address space a submission may add to its process (default {MEMORY_MB})")
    p.add_argument("--reveal", action="store_true",
                   help="show the reference's values beside the student's at the first wrong quantity (self-study)")
    p.add_argument("--json", action="store_true", help="print one JSON document for all submissions instead of text")
    p.add_argument("--gradescope", metavar="PATH",
                   help="write Gradescope's results.json (one test per equation) for the one submission given")
    p.add_argument("--jobs", type=jobs, default=1, help="submissions graded at once, or auto: one per CPU (default 1)")
    p.add_argument("--allow", action="append", default=[], metavar="NAME",
                   help="permit a module or built-in the exercise's policy refuses (repeatable; see scratchnet/grade/"
                        "policy.py)")
    p.add_argument("--config", metavar="TOML", help="points and visibility per equation: the exercise's grading.toml")
    p.add_argument("--class", dest="class_dir", metavar="DIR",
                   help="grade every submission in DIR (files, or a folder per student) and write --out's summary")
    p.add_argument("--out", metavar="DIR", help="with --class: the folder for grades.csv, summary.md and class.png")
    return p


def _arguments(argv, prog):
    """The parsed flags, with folders among the files expanded and files whose names start with a dash kept."""
    parser = build_parser(prog)
    args, extra = parser.parse_known_args(argv)
    unknown = [e for e in extra if not os.path.isfile(e)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.files = submission_paths(args.files + extra)
    if (args.class_dir is None) == (not args.files) or (args.class_dir is None) != (args.out is None):
        raise UsageError("give the submissions (FILE …), or --class DIR with --out DIR")
    return args


def main(argv=None, oracle=None, prog="python -m scratchnet.grade"):
    """Grade every FILE of argv, print the reports, exit 0 (all pass) or 1.

    oracle: torch_ref.autograd.torch_gradients (what python -m torch_ref.grade passes), or None.
    """
    args = _arguments(argv, prog)
    scoring = read_scoring(args.config) if args.config else DEFAULT
    if args.cases < 1 or args.time_limit <= 0 or args.memory_mb < 64 or args.jobs < 1:
        raise UsageError("--cases and --jobs must be ≥ 1, --time-limit > 0, --memory-mb ≥ 64")
    if args.gradescope:
        if len(args.files) != 1:
            raise UsageError(f"--gradescope writes one results.json: give one submission, not {len(args.files)}")
        check_outputs([(args.gradescope, "--gradescope")], inputs=[(path, "the submission") for path in args.files])
    check_seed(args.seed, name="--seed")

    def one(path):
        return grade(path, layout=args.layout, n_cases=args.cases, seed=args.seed, time_limit=args.time_limit,
                     memory_mb=args.memory_mb, oracle=oracle, allow=tuple(args.allow))

    if args.class_dir:
        sys.exit(run_class(args.class_dir, args.out, one, args.jobs, scoring))
    reports = grade_class(args.files, one, args.jobs)
    if args.gradescope:
        with atomic_write(args.gradescope, "w") as f:
            json.dump(gradescope(reports[0], args.reveal, scoring), f, indent=2, ensure_ascii=False)
    if args.json:
        passed = sum(r.passed for r in reports)
        doc = {"submissions": [as_dict(r, args.reveal, scoring) for r in reports],
               "summary": {"submissions": len(reports), "passed": passed, "failed": len(reports) - passed}}
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print("\n".join(r.text(args.reveal) for r in reports), end="")
        if len(reports) > 1:
            print(f"\n{sum(r.passed for r in reports)} of {len(reports)} submissions passed")
    sys.exit(0 if all(r.passed for r in reports) else 1)


if __name__ == "__main__":
    run_cli(main)
