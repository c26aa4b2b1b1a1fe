"""A submission's Python source: a .py file as it is, or a notebook's code cells in order.

Files are read as students' editors save them: UTF-8 with or without a byte-order mark (what Windows editors
write, and Python runs), CRLF or LF line ends. Notebook cells are joined with a blank line between them;
IPython's `%magic` and `!shell` lines become comments so that the rest compiles; a cell's source may be a
list of lines or a string (nbformat writes both), missing or null (an empty cell); anything else (a number, a
cell that is not an object) refuses the notebook in one line naming the file and the cell. `where(line)`
names a line the way the student sees it: "hw.py:12" or "hw.ipynb, cell 3, line 2". Compiling the source
(never running it) finds syntax errors here. A folder given instead of files stands for the .py and .ipynb
files in it (`submission_paths`).
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
    problem: str = None  # why the file cannot be graded at all (a notebook that is not one), else None

    @property
    def filename(self):
        """What the compiled code's frames are named: the path itself."""
        return os.path.abspath(self.path)

    def where(self, line):
        if self.cells is None or not 1 <= line <= len(self.cells):
            return f"{self.path}:{line}"
        cell, line_in_cell = self.cells[line - 1]
        return f"{self.path}, cell {cell}, line {line_in_cell}"

    def line_name(self, line):
        """"line 12 of hw.py", or "cell 3, line 2 of hw.ipynb"."""
        if self.cells is None or not 1 <= line <= len(self.cells):
            return f"line {line} of {self.path}"
        cell, line_in_cell = self.cells[line - 1]
        return f"cell {cell}, line {line_in_cell} of {self.path}"


SUFFIXES = (".py", ".ipynb")


def submission_paths(paths):
    """The paths to grade: each file as given, each folder as the .py and .ipynb files directly in it, sorted; a
    folder with none stays itself, so that its report says so and the others are still graded."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            inside = sorted(name for name in os.listdir(path) if name.endswith(SUFFIXES) and not name.startswith("."))
            files = [os.path.join(path, name) for name in inside if os.path.isfile(os.path.join(path, name))]
            found += files or [path]
        else:
            found.append(path)
    return found


def load(path):
    """The submission at `path` (.py or .ipynb); a missing or unreadable file is a UsageError."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file; give a .py or .ipynb submission")
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: a byte-order mark, if any, is not part of the text
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot be read as UTF-8 text ({e})") from None
    if not path.endswith(".ipynb"):
        return Submission(path, text)
    return _notebook(path, text)


def _notebook(path, text):
    try:
        cells = json.loads(text)["cells"]
    except (ValueError, KeyError, TypeError):
        return Submission(path, "", problem=f"{path}: not a Jupyter notebook (its JSON has no list of cells)")
    if not isinstance(cells, list):
        return Submission(path, "", problem=f"{path}: not a Jupyter notebook (its \"cells\" is not a list)")
    code = []
    for number, cell in enumerate(cells, 1):  # numbered as Jupyter shows them, markdown cells included
        source = cell.get("source") if isinstance(cell, dict) else None
        if not isinstance(cell, dict) or not (source is None or isinstance(source, str) or (
                isinstance(source, list) and all(isinstance(line, str) for line in source))):
            what = type(source).__name__ if isinstance(cell, dict) else f"a {type(cell).__name__}, not a cell"
            return Submission(path, "", problem=f"{path}, cell {number}: its source is {what}, not text: "
                                                "save the notebook again from Jupyter")
        if cell.get("cell_type") == "code":
            code.append((number, "".join(source) if isinstance(source, list) else source or ""))
    lines, where = [], []
    for number, source in code:
        body = source.splitlines()
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
    if submission.problem:
        return submission.problem
    try:
        compile(submission.source, submission.filename, "exec")
    except SyntaxError as e:
        return f"{submission.where(e.lineno or 1)}: {type(e).__name__}: {e.msg}"
    except ValueError as e:  # e.g. a NUL byte in the source
        return f"{submission.path}: cannot be compiled: {e}"
    return None
