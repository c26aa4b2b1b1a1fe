"""grade(path): load the submission, run it on the cases in a child process, diagnose each function.

    from scratchnet.grade import grade
    report = grade("submissions/ada.py")          # a Report: report.passed, report.functions, report.text()
    assert report.passed, report.text()

The oracle is scratchnet's reference engine (scratchnet/grade/cases.py); torch is needed only for
a second oracle passed in (python -m torch_ref.grade passes autograd), checked against the engine on the same cases.
The answers stay here: the child process gets the arguments of each call, and the grader judges what comes
back (scratchnet/grade/sandbox.py). Whatever the file is or does, grade() returns its Report.
"""

import os
import stat
import time

from scratchnet.errors import UsageError
from scratchnet.grade.cases import N_CASES, cases, reference
from scratchnet.grade.diagnosis import diagnose
from scratchnet.grade.execute import NotRun, Raised, Returned, TimedOut
from scratchnet.grade.handout import FUNCTIONS, LAYOUTS, declared_layout
from scratchnet.grade.isolation import detect
from scratchnet.grade.layouts import Layout
from scratchnet.grade.oracle import oracle_agreement
from scratchnet.grade.policy import source_problems
from scratchnet.grade.report import Report
from scratchnet.grade.sandbox import Guard, Held, Limits, forbidden_modules, grader_paths, run_submission
from scratchnet.grade.source import load, syntax_problem

TIME_LIMIT = Limits.time_limit   # seconds per call
MEMORY_MB = Limits.memory_mb     # address space a submission may add


def grade(path, layout=None, n_cases=N_CASES, seed=0, oracle=None, guard=None):
    """Grade the submission at `path` (.py or .ipynb) and return its Report; never raises for the file's faults.

    Args:
        layout: "rows", "columns" or "per-sample"; None reads the file's LAYOUT line.
        n_cases: how many networks (the first eight are the default cases; more are drawn at random).
        seed: draws other weights and batches for the same networks.
        oracle: None, or a second oracle (scratchnet.checking.oracle's interface, e.g.
            torch_ref.autograd.torch_gradients)
            whose answers on the same cases must agree with the engine's before any student is judged.
        guard: sandbox.Guard: the isolation, the budget of the whole submission, the names the teacher permits
            beyond scratchnet/grade/policy.py's (allow=), seconds each call may run (time_limit=), the address
            space the submission may add (memory_mb=); None: the defaults.
    """
    start = time.perf_counter()
    report = Report(path, layout or "rows", n_cases)
    submission, problem = _readable(path)
    guard = guard or Guard()
    problem = problem or "\n    ".join(source_problems(submission, guard.allow))
    if problem:
        return report.broken(problem, time.perf_counter() - start)
    stated = declared_layout(submission.source)
    if layout is None and stated is None:
        report.notes.append('the file has no LAYOUT = "..." line: graded in the rows layout')
    elif layout is not None and stated not in (None, layout):
        report.notes.append(f'graded in the {layout} layout as asked, though its LAYOUT line says "{stated}"')
    layout = layout or stated or "rows"
    if layout not in LAYOUTS:
        return report.broken(f'{path}: LAYOUT = "{layout}" is not one of {", ".join(LAYOUTS)}',
                             time.perf_counter() - start)
    report.layout = layout
    references = [reference(case) for case in cases(n_cases, seed)]
    report.cases = [ref.case for ref in references]
    if oracle is not None:
        line, agree = oracle_agreement(references, oracle)
        report.notes.append(line)
        if not agree:
            return report.broken("the two oracles disagree: report this as a bug in scratchnet",
                                 time.perf_counter() - start)
    held = Held(guard.limits(), guard.isolation or detect(),
                {"forbidden_modules": forbidden_modules(guard.allow), "forbidden_paths": grader_paths(_folder(path))})
    _judge(report, submission, references, held)
    report.seconds = time.perf_counter() - start
    return report


def _judge(report, submission, references, held):
    """Run the submission on the references' calls in its child and diagnose each function, in `report`."""
    calls, names = calls_for(report.layout, references)
    run = run_submission(submission.source, submission.filename, calls, names, held)
    report.output, report.isolation = run.output, held.isolation.describe(run.private_tmp)
    report.problem = _run_problem(submission, run)
    if report.problem:
        return
    report.functions = [diagnose(name, calls, run.outcomes, names, report.layout) for name in FUNCTIONS]
    _mutations(report.functions, calls, run.outcomes)
    left = held.limits.budget - run.seconds
    _layout_hints(report.functions, submission, report.layout, references,
                  held._replace(limits=Limits(held.limits.time_limit, held.limits.memory_mb, left)))
    report.submission = submission


def calls_for(layout, references):
    shape = Layout(layout)
    calls = [call for i, ref in enumerate(references) for call in shape.calls(ref, i)]
    return calls, [shape.argument_names(call.function) for call in calls]


def file_problem(path):
    """Why `path` cannot be a submission (missing, a folder, a FIFO or device), or None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{path}: no such file; give a .py or .ipynb submission"
    except OSError as e:
        return f"{path}: cannot be read ({e.strerror})"
    if stat.S_ISDIR(mode):
        return f"{path}: a folder with no .py or .ipynb file in it, not a submission"
    if not stat.S_ISREG(mode):
        return f"{path}: not a regular file (a FIFO, a socket or a device); give a .py or .ipynb submission"
    return None


def _readable(path):
    """(Submission, None), or (None, why the file at `path` cannot be graded: not a file, not UTF-8, syntax)."""
    problem = file_problem(path)
    if problem:
        return None, problem
    try:
        submission = load(path)
    except UsageError as e:
        return None, str(e)
    return submission, syntax_problem(submission)


def _folder(path):
    return os.path.dirname(os.path.abspath(path))


def _run_problem(submission, run):
    """Why the run gives no grade: what the exercise does not allow, the child's own failure, or the import."""
    if run.policy:
        return f"not allowed in this exercise: {'; '.join(run.policy)}"
    if run.fault:
        return f"the grading process failed ({run.fault}): report this as a bug in scratchnet"
    if run.import_outcome is not None:
        return _import_problem(submission, run.import_outcome)
    return None


def _import_problem(submission, outcome):
    if isinstance(outcome, TimedOut):
        return f"{submission.path}: loading the file ran past {outcome.seconds:g} s (code at module level loops?)"
    if isinstance(outcome, NotRun):
        return f"{submission.path}: {outcome.reason} while loading the file"
    where = submission.where(outcome.frames[-1][1]) if outcome.frames else submission.path
    return f"{where}: loading the file raised {outcome.type}: {outcome.message}"


def _mutations(functions, calls, outcomes):
    """A function that modified an input array fails, with a message naming the array."""
    for result in functions:
        changed = sorted({name for call, o in zip(calls, outcomes, strict=True)
                          if call.function == result.name and isinstance(o, (Returned, Raised)) for name in o.mutated})
        if changed:
            result.mutated = changed
            if result.status == "passed":
                result.status = "failed"


def _layout_hints(functions, submission, layout, references, held):
    """For functions that fail with an exception or a wrong shape: do they pass when given another layout's arrays?"""
    failing = [r for r in functions if r.status == "failed" and r.first is not None
               and (r.raised is not None or "shape" in r.first.verdict.message)]
    if not failing or held.limits.budget < 1:
        return
    others = [other for other in LAYOUTS if other != layout]
    parts = [calls_for(other, references[:2]) for other in others]  # both other layouts in one child run
    calls = [call for part, _ in parts for call in part]
    names = [name for _, part in parts for name in part]
    run = run_submission(submission.source, submission.filename, calls, names, held)
    if run.import_outcome is not None or run.policy or run.fault:
        return
    start = 0
    for other, (part, part_names) in zip(others, parts, strict=True):
        outcomes = run.outcomes[start:start + len(part)]
        start += len(part)
        for result in failing:
            if diagnose(result.name, part, outcomes, part_names, other).passed:
                result.hints.append(f"{result.name} gives the right answer when given the {other} layout's arrays: "
                                    f"is this file in the {other} layout? It was graded in the {layout} layout")
