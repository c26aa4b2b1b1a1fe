"""Sources as students save them (scratchnet/grade/source.py): UTF-8 with a byte-order mark, CRLF line ends,
`LAYOUT: str = ...`, names with spaces or a leading dash, a folder instead of files, and notebooks with odd
cells are graded, or refused in one line naming the file. One submission is graded end to end (a child run);
the rest are read and compiled only.

    python -m pytest tests/test_grade_sources.py
"""

import json

import pytest

from scratchnet.grade import grade
from scratchnet.grade.handout import declared_layout, solution_source
from scratchnet.grade.source import load, submission_paths, syntax_problem


def test_a_bom_crlf_annotated_solution_named_with_spaces_passes(tmp_path):
    """What a Windows editor writes, with the layout line annotated: graded as columns, and passes."""
    source = solution_source("columns").replace('LAYOUT = "columns"', 'LAYOUT: str = "columns"')
    path = tmp_path / "my homework (final).py"
    path.write_bytes(b"\xef\xbb\xbf" + source.replace("\n", "\r\n").encode("utf-8"))
    report = grade(str(path))
    assert report.passed and report.layout == "columns", report.text()
    assert not any("LAYOUT" in note for note in report.notes), report.notes


@pytest.mark.parametrize("line, layout", [
    ('LAYOUT = "columns"', "columns"), ('LAYOUT: str = "per-sample"', "per-sample"),
    ("LAYOUT = 'rows'  # keep", "rows"), ("layout = 'rows'", None), ('LAYOUT = "rows"\nLAYOUT = "columns"', "columns")])
def test_the_layout_line_is_read_as_python_reads_it(line, layout):
    assert declared_layout(f"import numpy as np\n{line}\n") == layout


def test_a_leading_dash_and_a_folder(tmp_path):
    (tmp_path / "-ada.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "grace.ipynb").write_text(json.dumps({"cells": []}), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a submission", encoding="utf-8")
    assert submission_paths([str(tmp_path)]) == [str(tmp_path / "-ada.py"), str(tmp_path / "grace.ipynb")]
    assert syntax_problem(load(str(tmp_path / "-ada.py"))) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert submission_paths([str(empty)]) == [str(empty)]  # graded as itself: its report says what it is


def notebook(tmp_path, cells, **extra):
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps({"cells": cells, **extra}), encoding="utf-8")
    return load(str(path))


def test_notebook_cells_as_nbformat_writes_them(tmp_path):
    """source as a list or a string, null or missing (empty cells), no metadata at all."""
    cells = [{"cell_type": "markdown", "source": None}, {"cell_type": "code", "source": ["x = 1\n", "y = 2\n"]},
             {"cell_type": "code", "source": None}, {"cell_type": "code"}, {"cell_type": "code", "source": "z = x\n"}]
    sub = notebook(tmp_path, cells)
    assert syntax_problem(sub) is None
    assert "x = 1\ny = 2\n" in sub.source and "z = x" in sub.source
    assert sub.where(sub.source.splitlines().index("z = x") + 1).endswith("hw.ipynb, cell 5, line 1")


@pytest.mark.parametrize("cells, message", [
    ([{"cell_type": "code", "source": 3}], "hw.ipynb, cell 1: its source is int, not text"),
    ([{"cell_type": "code", "source": "x = 1"}, "print(1)"], "hw.ipynb, cell 2: its source is a str, not a cell"),
    ([{"cell_type": "code", "source": ["x", 2]}], "hw.ipynb, cell 1: its source is list, not text"),
    ({"a": 1}, "hw.ipynb: not a Jupyter notebook (its \"cells\" is not a list)"),
])
def test_odd_notebooks_are_refused_in_one_line(tmp_path, cells, message):
    problem = syntax_problem(notebook(tmp_path, cells))
    assert problem is not None and message in problem and "\n" not in problem, problem


def test_json_that_is_not_a_notebook(tmp_path):
    path = tmp_path / "hw.ipynb"
    path.write_text("[1, 2]", encoding="utf-8")
    assert syntax_problem(load(str(path))).endswith("hw.ipynb: not a Jupyter notebook (its JSON has no list of cells)")
