"""A submission's Python source: a .py file as it is, or a notebook's code cells in order.

Notebook cells are joined with a blank line between them; IPython's `%magic` and `!shell` lines become
comments so that the rest compiles. `where(line)` names a line the way the student sees it: "hw.py:12" or
"hw.ipynb, cell 3, line 2". Compiling the source (never running it) finds syntax errors here.
"""

import json
import os
from dataclasses import dataclass

from scratchnet.errors import UsageError


@dataclass
class Submission:
    path: str
    source: str
    cells: list = None  # notebooks: for each line of source, (cell number, line in cell); None for .py

    @property
    def filename(self):
        """What the compiled code's frames are named: the path itself."""
        return os.path.abspath(self.path)

    def where(self, line):
        if self.cells is None or not 1 <= line <= len(self.cells):
            return f"{self.path}:{line}"
        cell, line_in_cell = self.cells[line - 1]
        return f"{self.path}, cell {cell}, line {line_in_cell}"


def load(path):
    """The submission at `path` (.py or .ipynb); a missing or unreadable file is a UsageError."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file; give a .py or .ipynb submission")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot be read as UTF-8 text ({e})") from None
    if not path.endswith(".ipynb"):
        return Submission(path, text)
    return _notebook(path, text)


def _notebook(path, text):
    try:
        cells = [(n, c) for n, c in enumerate(json.loads(text)["cells"], 1) if c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return Submission(path, "raise SyntaxError('not a Jupyter notebook (its JSON has no cells)')")
    lines, where = [], []
    for number, cell in cells:  # numbered as Jupyter shows them, markdown cells included
        source = cell.get("source", "")
        body = ("".join(source) if isinstance(source, list) else source).splitlines()
        for i, line in enumerate(body, 1):
            code = line.lstrip()
            magic = code.startswith(("%", "!"))
            lines.append(f"{line[:len(line) - len(code)]}pass  # {code}" if magic else line)
            where.append((number, i))
        lines.append("")
        where.append((number, len(body) + 1))
    return Submission(path, "\n".join(lines) + "\n", where)


def syntax_problem(submission):
    """One line, `file:line: SyntaxError: message`, or None when the source compiles."""
    try:
        compile(submission.source, submission.filename, "exec")
    except SyntaxError as e:
        return f"{submission.where(e.lineno or 1)}: {type(e).__name__}: {e.msg}"
    except ValueError as e:  # e.g. a NUL byte in the source
        return f"{submission.path}: cannot be compiled: {e}"
    return None
