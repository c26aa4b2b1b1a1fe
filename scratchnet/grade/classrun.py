"""python -m scratchnet.grade --class DIR --out SUMMARY: a whole class at once, and which equation it gets wrong.

    python -m scratchnet.grade --class submissions/ --out summary/ --jobs auto --config hw/grading.toml

Each student is a .py or .ipynb file directly in DIR, or a folder in DIR holding one (as Gradescope's and
nbgrader's exports do; with several, the first in name order). They are graded in parallel (--jobs; auto:
one per CPU), each in its own child process. SUMMARY receives:

    grades.csv   one row per student: score, max score, status, the first wrong equation, its mistake, seconds
    summary.md   the class at a glance: for each equation, how many students got it wrong and the most common
                 mistake there; then the students who could not be graded, and why
    class.png    the same as a picture (needs matplotlib; without it one line says so, and the rest is written)

A student's mistake at an equation is the catalogued mistake the grader named (scratchnet/grade/mistakes.py),
else what went wrong in a few words ("wrong shape", "raised KeyError", "not yet implemented", …).
"""

import csv
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from scratchnet.errors import UsageError
from scratchnet.grade.points import DEFAULT, KEYS
from scratchnet.grade.report import EQUATIONS
from scratchnet.grade.sandbox import interrupt
from scratchnet.grade.source import SUFFIXES
from scratchnet.shell.console import Progress, info
from scratchnet.shell.fileio import atomic_write

LABELS = {"forward": "forward pass", "cross_entropy": "(BP1) cross-entropy", "quadratic": "(BP1) quadratic",
          "BP2": "(BP2) δ^[l]", "BP4": "(BP4) ∂C/∂W^[l]", "BP3": "(BP3) ∂C/∂b^[l]", "update": "SGD update"}
UNANSWERED = {"not implemented": "not yet implemented", "not defined": "function missing", "timed out": "timed out"}
NOT_WRITTEN = ("not yet implemented", "function missing")
MAX_JOBS = 256  # --jobs beyond it: more child processes than any class needs at once


def jobs(text):
    """--jobs: a count from 1 to MAX_JOBS, or auto (one per CPU)."""
    if text == "auto":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_JOBS:
        raise UsageError(f"--jobs {text}: give a number of submissions graded at once, 1 to {MAX_JOBS}, or auto")
    return count


def students(folder):
    """[(student, path)] for the class in `folder`: its .py/.ipynb files, and the one in each of its folders."""
    if not os.path.isdir(folder):
        raise UsageError(f"--class {folder}: no such folder; give the folder of the class's submissions")
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith("."):
            continue
        if os.path.isfile(path) and name.endswith(SUFFIXES):
            found.append((os.path.splitext(name)[0], path))
        elif os.path.isdir(path):
            inside = sorted(n for n in os.listdir(path) if n.endswith(SUFFIXES) and not n.startswith("."))
            if inside:
                found.append((name, os.path.join(path, inside[0])))
    if not found:
        raise UsageError(f"--class {folder}: no .py or .ipynb submission in it, nor in its folders")
    return found


def grade_class(paths, grade_one, n_jobs):
    """The Reports of `paths`, graded n_jobs at a time by grade_one(path) -> Report, in the order given. Ctrl-C or
    SIGTERM stops them all: every child killed, every temporary folder removed, then the signal goes on."""
    progress = Progress(len(paths), "grading", unit=" files")

    def one(path):
        report = grade_one(path)
        progress.update(progress.done + 1)
        return report

    pool = ThreadPoolExecutor(n_jobs)
    try:
        reports = list(pool.map(one, paths))
    except BaseException:
        interrupt(pool)
        raise
    pool.shutdown()
    progress.close()
    return reports


def run_class(folder, out, grade_one, n_jobs, scoring=DEFAULT):
    """Grade the class in `folder` with grade_one(path) -> Report, write the summary in `out`; the exit status."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file: give a folder for grades.csv, summary.md and class.png")
    names, paths = zip(*students(folder), strict=True)
    reports = grade_class(list(paths), grade_one, n_jobs)
    for path in write_summary(out, list(names), reports, scoring):
        info(f"wrote {path}")
    info(headline(reports))
    return 0 if all(r.passed for r in reports) else 1


def equation_mistakes(report):
    """{equation key: the student's mistake there} for every equation the report fails; {} when it could not be
    graded at all (report.problem says why)."""
    if report.problem:
        return {}
    found = {}
    for key, (_, ok, result), (_, _, quantities) in zip(KEYS, report.equations(), EQUATIONS, strict=True):
        if not ok:
            found[key] = _mistake(result, quantities)
    return found


def _mistake(result, quantities):
    if result is None or result.status in UNANSWERED:
        return UNANSWERED[result.status] if result else "function missing"
    if result.mutated:
        return "modified its input"
    first = result.first
    if first is not None and first.quantity.name in quantities and result.mistakes:
        return result.mistakes[0].name
    wrong = [f for f in result.findings if f.quantity.name in quantities and not f.verdict.ok and not f.follows]
    message = (wrong[0] if wrong else first).verdict.message if (wrong or first) else ""
    for words, kind in (("raised", None), ("shape", "wrong shape"), ("dtype", "wrong dtype"), ("holds", "NaN or ±∞"),
                        ("finite differences", "finite-difference precision"), ("time limit", "timed out")):
        if words in message:
            return kind or message.split(":")[0][:40]
    return "a wrong value, no catalogued mistake"


def rows(names, reports, scoring=DEFAULT):
    """One dict per student, the columns of grades.csv."""
    table = []
    for name, report in zip(names, reports, strict=True):
        passed = [ok for _, ok, _ in report.equations()]
        mistakes = equation_mistakes(report)
        first = next(iter(mistakes), "")
        problem = (report.problem or "").splitlines()[0] if report.problem else ""
        table.append({"student": name, "file": report.path, "status": report.status,
                      "score": f"{scoring.score(passed) if not report.problem else 0.0:g}",
                      "max_score": f"{scoring.max_score:g}", "first_wrong_equation": first,
                      "mistake": mistakes.get(first, problem[:120]), "seconds": f"{report.seconds:.1f}"})
    return table


def per_equation(reports):
    """[(key, title, students wrong there, Counter of their mistakes)] over the reports that could be graded."""
    counted = [(key, title, Counter()) for key, (title, _, _) in zip(KEYS, EQUATIONS, strict=True)]
    for report in reports:
        mistakes = equation_mistakes(report)
        for key, _, counter in counted:
            if key in mistakes:
                counter[mistakes[key]] += 1
    return [(key, title, sum(counter.values()), counter) for key, title, counter in counted]


def split(counter):
    """(the mistakes made, how many students had not written the function) of one equation's Counter."""
    made = Counter({name: n for name, n in counter.items() if name not in NOT_WRITTEN})
    return made, sum(counter.values()) - sum(made.values())


def write_summary(out, names, reports, scoring=DEFAULT):
    """grades.csv, summary.md and class.png in `out`; returns the paths written."""
    os.makedirs(out, exist_ok=True)
    table = rows(names, reports, scoring)
    written = [os.path.join(out, "grades.csv"), os.path.join(out, "summary.md")]
    with atomic_write(written[0], "w") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    equations = per_equation(reports)
    with atomic_write(written[1], "w") as f:
        f.write(markdown(table, equations, reports))
    picture = os.path.join(out, "class.png")
    if draw(picture, equations, headline(reports)):
        written.append(picture)
    return written


def headline(reports):
    passed = sum(r.passed for r in reports)
    broken = sum(r.problem is not None for r in reports)
    return f"{len(reports)} students: {passed} passed, {len(reports) - passed - broken} failed, {broken} not gradable"


def markdown(table, equations, reports):
    lines = ["# The class, equation by equation", "", headline(reports) + ".", "",
             "| equation | students wrong | most common mistakes there | not written yet |", "|---|---:|---|---:|"]
    for _, title, wrong, counter in equations:
        made, not_written = split(counter)
        common = ", ".join(f"{name} ({n})" for name, n in made.most_common(2)) or "—"
        lines.append(f"| {title} | {wrong} | {common} | {not_written} |")
    broken = [row for row in table if row["status"] == "broken"]
    if broken:
        lines += ["", "## Could not be graded", ""] + [f"- {row['student']}: {row['mistake']}" for row in broken]
    lines += ["", "## Students", "", "| student | score | first wrong | mistake |", "|---|---:|---|---|"]
    lines += [f"| {row['student']} | {row['score']}/{row['max_score']} | {row['first_wrong_equation'] or '—'} | "
              f"{row['mistake'] or '—'} |" for row in table]
    return "\n".join(lines) + "\n"


def draw(path, equations, title):
    """class.png: one bar per equation, its length the students wrong there, the most common mistake marked."""
    try:
        import matplotlib
    except ImportError:
        info("matplotlib is not installed, so no class.png (pip install matplotlib); grades.csv and summary.md "
             "are written")
        return False
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [LABELS[key] for key, _, _, _ in equations]
    parts = [split(counter) for _, _, _, counter in equations]
    common = [made.most_common(1)[0] if made else ("", 0) for made, _ in parts]
    first = [n for _, n in common]
    others = [sum(made.values()) - n for (made, _), n in zip(parts, first, strict=True)]
    blank = [not_written for _, not_written in parts]
    fig, ax = plt.subplots(figsize=(10, 4.6), dpi=100)
    y = list(range(len(equations)))[::-1]
    ax.barh(y, first, color="#b2182b", label="its most common mistake")
    ax.barh(y, others, left=first, color="#f4a582", label="other mistakes")
    ax.barh(y, blank, left=[a + b for a, b in zip(first, others, strict=True)], color="#bababa",
            label="not written yet")
    for yi, (name, n), (_, _, w, _), k in zip(y, common, equations, blank, strict=True):
        said = ", ".join(filter(None, [f"{name} ({n})" if n else "", f"{k} not written" if k else ""]))
        if w:
            ax.text(w + 0.15, yi, f"{w}: {said}", va="center", fontsize=9)
    ax.set_yticks(y, labels, fontsize=10)
    widest = max((w for _, _, w, _ in equations), default=0)
    ax.set_xlim(0, max(widest * 2.1, 4))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("students who got it wrong")
    ax.set_title(f"Which equation the class gets wrong ({title})", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3, fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
