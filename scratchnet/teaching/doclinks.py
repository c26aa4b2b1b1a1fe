"""The links from docs/backprop.md into the code, read back (so that other pages can point where the notes do),
and repaired when the code moves.

A code link is written  [`TAG` · FILE Lx-Ly](../scratchnet/FILE#Lx-Ly)  (or one line: `· FILE Lx](…#Lx)`),
and TAG occurs verbatim in lines x..y of FILE; tests/test_docs.py holds every link to that. When code moves,

    python -m scratchnet.teaching.doclinks --fix              # rewrite docs/backprop.md's links in place
    python -m scratchnet.teaching.doclinks --fix --doc README.md

moves each link that no longer holds to where its TAG lies again, the span kept: of the places that hold, the
one whose lines are most like the code the link covered when it was committed (git blame of the link's line,
then git show of the file at that commit), then the nearest; a link whose file moved points to the one file of
that name under scratchnet/. What it cannot repair, it names, and exits 1. Without --fix it only lists the
links that do not hold.
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass
from difflib import SequenceMatcher

from scratchnet.errors import UsageError
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import run_cli
from scratchnet.shell.fileio import atomic_write, check_input

REPO = pathlib.Path(__file__).resolve().parents[2]
NOTES = REPO / "docs" / "backprop.md"
CODE_LINK = re.compile(r"\[`(?P<tag>[^`]+)` · (?P<name>[\w./-]+) L(?P<a>\d+)(?:-L(?P<b>\d+))?\]"
                       r"\((?P<path>[^)#\s]+)#L(?P<ta>\d+)(?:-L(?P<tb>\d+))?\)")
DEF = re.compile(r"^\s*def (\w+)\(")


@dataclass(frozen=True)
class CodeLink:
    """One link of the notes: the tag it names, the file it points at, its first and last line."""

    tag: str
    path: pathlib.Path
    first: int
    last: int

    @property
    def label(self):
        """How the notes print it: "network.py L144-L145" (or "network.py L143")."""
        lines = f"L{self.first}" if self.first == self.last else f"L{self.first}-L{self.last}"
        return f"{self.path.name} {lines}"

    def lines(self):
        """The source lines the link covers."""
        return source_lines(self.path)[self.first - 1:self.last]

    def function(self):
        """The name of the function whose body holds the link's first line (None at module level)."""
        for line in reversed(source_lines(self.path)[:self.first]):
            match = DEF.match(line)
            if match:
                return match[1]
        return None


def source_lines(path):
    """The lines of a file the notes link to, read as UTF-8 whatever the locale."""
    return path.read_text(encoding="utf-8").splitlines()


def code_links(doc=NOTES):
    """Every code link of `doc`, in order; [] when the notes are not there (an installed copy without docs/)."""
    if not doc.is_file():
        return []
    return [CodeLink(m["tag"], (doc.parent / m["path"]).resolve(), int(m["ta"]), int(m["tb"] or m["ta"]))
            for m in CODE_LINK.finditer(doc.read_text(encoding="utf-8"))]


def find_link(links, tag, file, function=None):
    """The first link named `tag` that points into `file` (e.g. "network.py") and, if given, `function`; or None."""
    return next((link for link in links if link.tag == tag and link.path.name == file
                 and function in (None, link.function())), None)


def holds(tag, lines, first, last):
    """Whether TAG occurs verbatim in lines first..last (1-based, inclusive) of `lines`."""
    return 1 <= first <= last <= len(lines) and tag in "\n".join(lines[first - 1:last])


def best_place(tag, lines, first, last, before=None):
    """(first, last) moved so that TAG lies inside, the span kept; None if TAG is nowhere.

    Of the places that hold, the one whose lines are most like `before` (the lines the link covered when it was
    written, if known: difflib's ratio, line by line), then the one moved by the fewest lines (later ones first).
    """
    span, places = last - first, []
    for start in range(1, len(lines) - span + 1):
        if holds(tag, lines, start, start + span):
            window = lines[start - 1:start + span]
            same = sum(SequenceMatcher(None, a.strip(), b.strip()).ratio()
                       for a, b in zip(window, before or [], strict=False))
            places.append((-same, abs(start - first), start < first, start))
    if not places:
        return None
    start = min(places)[-1]
    return start, start + span


class History:
    """What git knows of a doc: for each of its lines, the file contents that its last commit linked against."""

    def __init__(self, doc):
        self.doc, self.files = doc, {}
        self.commits = self._blame()

    def _git(self, *args):
        done = subprocess.run(["git", *args], cwd=self.doc.parent, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None

    def _blame(self):
        """{line number: the commit that last changed it} (no git, or not committed: {})."""
        out, commits = self._git("blame", "--porcelain", "--", self.doc.name), {}
        for line in (out or "").splitlines():
            fields = line.split()
            if len(fields) >= 3 and len(fields[0]) == 40 and fields[1].isdigit() and set(fields[0]) != {"0"}:
                commits[int(fields[2])] = fields[0]
        return commits

    def lines_then(self, line_number, target, first, last):
        """Lines first..last of `target` as they stood in the commit that last wrote line `line_number`, or None."""
        commit, top = self.commits.get(line_number), self._git("rev-parse", "--show-toplevel")
        if commit is None or top is None:
            return None
        where = pathlib.Path(os.path.relpath(target, top.strip())).as_posix()
        if (commit, where) not in self.files:
            shown = self._git("show", f"{commit}:{where}")
            self.files[commit, where] = shown.splitlines() if shown is not None else None
        then = self.files[commit, where]
        return then[first - 1:last] if then else None


def moved_file(doc, path):
    """The one file named like `path` under the scratchnet/ beside doc's folder, or None (none, or several)."""
    found = sorted((doc.parent.parent / "scratchnet").rglob(path.name))
    return found[0] if len(found) == 1 else None


def fixed_link(doc, match, history, problems):
    """The link of `match`, its file and lines repaired where they no longer hold; what could not be, appended to
    `problems`."""
    tag, written = match["tag"], (doc.parent / match["path"]).resolve()
    first, last = int(match["ta"]), int(match["tb"] or match["ta"])
    target = written if written.is_file() else moved_file(doc, written)
    if target is None:
        problems.append(f"{match[0]}: no file {match['path']}, and no single file of that name under scratchnet/")
        return match[0]
    lines = source_lines(target)
    if target == written and holds(tag, lines, first, last):
        return match[0]
    line_number = match.string.count("\n", 0, match.start()) + 1
    place = best_place(tag, lines, first, last, history.lines_then(line_number, written, first, last))
    if place is None:
        problems.append(f"{match[0]}: {tag!r} is nowhere in {target.name}")
        return match[0]
    first, last = place
    lines_text = f"L{first}" if first == last else f"L{first}-L{last}"
    relative = pathlib.Path(os.path.relpath(target, doc.parent)).as_posix()
    return f"[`{tag}` · {target.name} {lines_text}]({relative}#{lines_text})"


def fix_links(doc=NOTES):
    """Rewrite every code link of `doc` that no longer holds (module docstring); return (links changed, problems)."""
    text, problems, history = doc.read_text(encoding="utf-8"), [], History(doc)
    fixed = CODE_LINK.sub(lambda match: fixed_link(doc, match, history, problems), text)
    changed = sum(a != b for a, b in zip(CODE_LINK.findall(text), CODE_LINK.findall(fixed), strict=True))
    if fixed != text:
        with atomic_write(doc) as out:  # whole or not at all: the notes are never left half-written
            out.write(fixed.encode("utf-8"))
    return changed, problems


def broken_links(doc=NOTES):
    """The links of `doc` whose TAG is not in the lines they name (or whose file is missing), as their text."""
    return [link for link in code_links(doc)
            if not (link.path.is_file() and holds(link.tag, source_lines(link.path), link.first, link.last))]


def main(argv=None):
    parser = OneLineParser(prog="python -m scratchnet.teaching.doclinks", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fix", action="store_true", help="rewrite the links that no longer hold, in place")
    parser.add_argument("--doc", type=pathlib.Path, default=NOTES, help="the Markdown file (default docs/backprop.md)")
    args = parser.parse_args(argv)
    check_input(args.doc, "--doc")
    if not args.doc.is_file():
        raise UsageError(f"--doc {args.doc}: no such file; give the Markdown notes (default docs/backprop.md)")
    if args.fix:
        changed, problems = fix_links(args.doc)
        print(f"{args.doc}: {changed} link(s) rewritten")
    else:
        problems = [f"{link.tag!r} is not in {link.label}" for link in broken_links(args.doc)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
