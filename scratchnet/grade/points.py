"""Points and visibility per equation, from the grading.toml a teacher keeps beside the hand-out.

    python -m scratchnet.exercise --out hw                  # writes hw/grading.toml with the defaults below
    python -m scratchnet.grade sub.py --config hw/grading.toml --gradescope results.json

The file names the report's seven equations by key; a missing key keeps its default (1 point, "visible").
Visibility is Gradescope's: "visible", "hidden", "after_due_date" or "after_published". The grader never reads a
grading.toml it is not given (--config): one beside a submission is the student's, not the teacher's.
"""

from dataclasses import dataclass

import tomllib

from scratchnet.errors import UsageError

KEYS = ("forward", "cross_entropy", "quadratic", "BP2", "BP4", "BP3", "update")  # report.EQUATIONS, in order
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Scoring:
    """points[key] and visibility[key] for each equation key of KEYS."""

    points: dict
    visibility: dict

    @property
    def max_score(self):
        return float(sum(self.points.values()))

    def score(self, passed):
        """The points of the equations passed: `passed` is a list of 7 bools, in the order of KEYS."""
        return float(sum(self.points[key] for key, ok in zip(KEYS, passed, strict=True) if ok))


DEFAULT = Scoring(dict.fromkeys(KEYS, 1.0), dict.fromkeys(KEYS, "visible"))


def read_scoring(path):
    """The Scoring of a grading.toml; a file that is not one is a UsageError naming the file and the key."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"--config {path}: cannot be read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config {path}: not TOML ({e})") from None
    points, visibility = dict(DEFAULT.points), dict(DEFAULT.visibility)
    for table, into, valid in (("points", points, _points), ("visibility", visibility, _visibility)):
        for key, value in doc.get(table, {}).items():
            if key not in KEYS:
                raise UsageError(f"--config {path}: [{table}] {key} is not an equation: use {', '.join(KEYS)}")
            into[key] = valid(path, table, key, value)
    return Scoring(points, visibility)


def _points(path, table, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UsageError(f"--config {path}: [{table}] {key} = {value!r}: give a number of points ≥ 0")
    return float(value)


def _visibility(path, table, key, value):
    if value not in VISIBILITIES:
        raise UsageError(f"--config {path}: [{table}] {key} = {value!r}: use one of {', '.join(VISIBILITIES)}")
    return value


def toml_text(scoring=DEFAULT):
    """What python -m scratchnet.exercise writes as grading.toml: every key, with its default, and what it means."""
    lines = ["# How python -m scratchnet.grade scores this exercise: pass it with --config grading.toml",
             "# (--gradescope, --json, --class). Points per equation; a failing equation scores 0.",
             "# backward's equations are BP2, BP4 and BP3; update is sgd_update.", "[points]"]
    lines += [f"{key} = {scoring.points[key]:g}" for key in KEYS]
    lines += ["", '# Gradescope\'s visibility per test: "visible", "hidden" (until published), "after_due_date",',
              '# or "after_published".', "[visibility]"]
    lines += [f'{key} = "{scoring.visibility[key]}"' for key in KEYS]
    return "\n".join(lines) + "\n"
