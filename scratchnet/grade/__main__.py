"""python -m scratchnet.grade: check students' backprop against scratchnet's reference, equation by equation.

    python -m scratchnet.grade hw/backprop_rows.py                       # one submission, as a student reads it
    python -m scratchnet.grade submissions/*.py --json > grades.json     # a class, as data
    python -m scratchnet.grade submission.py --gradescope /autograder/results/results.json
    python -m scratchnet.grade --class submissions/ --out summary/ --jobs auto   # grades.csv, summary.md, class.png
    python -m scratchnet.grade --help
    python -m torch_ref.grade hw/backprop_rows.py                        # the same, torch autograd as a 2nd oracle

Each submission (.py, or .ipynb whose code cells run in order) runs in its own child process, which is sent
the arguments of each call and never an answer; the grader judges what comes back, as data. The child has
a time limit per call, one budget for the whole submission, a memory limit, its own session and process
group (all killed when it ends), an allow-listed environment, and where the machine allows, an unprivileged
user (when the grader is root), its own PID namespace, no network and a private /tmp: each report's
"isolation:" line says which. A file that cannot be graded gets its own report, score 0. Exit status: 0
when every submission passes, 1 when one fails, 2 for a usage error.
"""

import argparse
import json
import math
import os
import sys

from scratchnet.checks import check_seed
from scratchnet.errors import UsageError
from scratchnet.grade.cases import MAX_CASES, N_CASES
from scratchnet.grade.classrun import MAX_JOBS, grade_class, jobs, run_class
from scratchnet.grade.formats import as_dict, gradescope, printable
from scratchnet.grade.grader import MEMORY_MB, TIME_LIMIT, grade
from scratchnet.grade.handout import LAYOUTS
from scratchnet.grade.isolation import detect
from scratchnet.grade.points import DEFAULT, read_scoring
from scratchnet.grade.report import Report
from scratchnet.grade.sandbox import Guard, Limits
from scratchnet.grade.source import submission_paths
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import run_cli
from scratchnet.shell.fileio import atomic_write, check_outputs, same_file

MAX_SECONDS = 86_400      # a day: --time-limit and --submission-time beyond it are mistakes
MAX_MEMORY_MB = 1 << 20   # 1 TiB


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
                   help=f"MiB of address space a submission may add to its process, 64 to {MAX_MEMORY_MB} "
                        f"(default {MEMORY_MB})")
    p.add_argument("--submission-time", type=float, default=Limits.budget,
                   help="seconds one submission may run in all, its calls, restarts and layout hints together; "
                        f"nothing it prints extends it (default {Limits.budget:g})")
    p.add_argument("--user", help="when the grader runs as root: the unprivileged account submissions run as "
                                  "(default nobody)")
    p.add_argument("--reveal", action="store_true",
                   help="show the reference's values beside the student's at the first wrong quantity (self-study)")
    p.add_argument("--json", action="store_true", help="print one JSON document for all submissions instead of text")
    p.add_argument("--gradescope", metavar="PATH",
                   help="write Gradescope's results.json (one test per equation) for the one submission given")
    p.add_argument("--jobs", default="1",
                   help=f"submissions graded at once, 1 to {MAX_JOBS}, or auto: one per CPU (default 1)")
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
    """Grade every FILE of argv (or the --class folder), print the reports, exit 0 (all pass) or 1.

    oracle: torch_ref.autograd.torch_gradients (what python -m torch_ref.grade passes), or None.
    """
    args = _checked(_arguments(argv, prog))
    scoring = read_scoring(args.config) if args.config else DEFAULT
    guard = Guard(detect(args.user), args.submission_time, allow=tuple(args.allow), time_limit=args.time_limit,
                  memory_mb=args.memory_mb)

    def one(path):
        try:
            return grade(path, layout=args.layout, n_cases=args.cases, seed=args.seed, oracle=oracle, guard=guard)
        except Exception as e:  # the grader's own failure on this file: its report says so, the others go on
            return Report(path, args.layout or "rows", args.cases).broken(
                f"the grader failed on this file ({type(e).__name__}: {e}): report this as a bug in scratchnet", 0.0)

    if args.class_dir:
        sys.exit(run_class(args.class_dir, args.out, one, args.jobs, scoring))
    reports = grade_class(args.files, one, args.jobs)
    _write(reports, args, scoring)
    sys.exit(0 if all(r.passed for r in reports) else 1)


def _checked(args):
    """args, once every flag is a usable value (else a UsageError naming the flag)."""
    if not 1 <= args.cases <= MAX_CASES:
        raise UsageError(f"--cases {args.cases}: give a number of networks from 1 to {MAX_CASES}")
    args.jobs = jobs(args.jobs)
    for flag, value in (("--time-limit", args.time_limit), ("--submission-time", args.submission_time)):
        if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
            raise UsageError(f"{flag} {value:g}: give a number of seconds in (0, {MAX_SECONDS}]")
    if not 64 <= args.memory_mb <= MAX_MEMORY_MB:
        raise UsageError(f"--memory-mb {args.memory_mb}: give a number of MiB from 64 to {MAX_MEMORY_MB}")
    if args.gradescope:
        if len(args.files) != 1:
            raise UsageError(f"--gradescope writes one results.json: give one submission, not {len(args.files)}")
        check_outputs([(args.gradescope, "--gradescope")])
        if same_file(args.gradescope, args.files[0]):  # a submission that is no regular file is graded (score 0)
            raise UsageError(f"the submission {args.files[0]} and --gradescope {args.gradescope} are the same file: "
                             "--gradescope would overwrite what this command reads; give it another path")
    check_seed(args.seed, name="--seed")
    return args


def _write(reports, args, scoring):
    """The reports as text or one JSON document on stdout, and Gradescope's results.json when asked."""
    if args.gradescope:
        with atomic_write(args.gradescope, "w") as f:
            json.dump(gradescope(reports[0], args.reveal, scoring), f, indent=2, ensure_ascii=False)
    if args.json:
        passed = sum(r.passed for r in reports)
        doc = {"submissions": [as_dict(r, args.reveal, scoring) for r in reports],
               "summary": {"submissions": len(reports), "passed": passed, "failed": len(reports) - passed}}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(printable("\n".join(r.text(args.reveal) for r in reports)), end="")
        if len(reports) > 1:
            print(f"\n{sum(r.passed for r in reports)} of {len(reports)} submissions passed")


if __name__ == "__main__":
    run_cli(main)
