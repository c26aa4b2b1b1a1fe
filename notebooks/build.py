"""Make notebooks/tutorial.ipynb from notebooks/tutorial.py, its source, and tutorial.executed.ipynb, the same
notebook run top to bottom with its outputs, for reading on GitHub.

    python notebooks/build.py            # write both (running the notebook needs the notebook extra: ~1-2 min)
    python notebooks/build.py --check    # exit 1 when either notebook's cells are not what tutorial.py makes

The source is plain Python in the "percent" format that Jupytext and VS Code read: a line `# %%` starts a code
cell, `# %% [markdown]` a Markdown cell whose lines are comments (`# ` is taken off each). tutorial.ipynb is
written the same way every time (cell ids numbered, no outputs, no execution counts), so that a test can
compare it with the source byte for byte; tutorial.executed.ipynb holds the very same cells, run in order by
nbclient (Jupyter's own executor) in a fresh kernel, without timings. tests/test_notebook.py fails when either
was edited by hand instead of through this script, and runs the notebook itself.
"""

import argparse
import json
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
SOURCE, NOTEBOOK, EXECUTED = HERE / "tutorial.py", HERE / "tutorial.ipynb", HERE / "tutorial.executed.ipynb"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
NEEDS = "running the notebook needs Jupyter's executor: pip install -e '.[notebook]'"


def cells(source):
    """(kind, text) for each cell of a percent-format source: kind "code" or "markdown"."""
    found = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            found.append(("markdown" if "[markdown]" in line else "code", []))
        elif found:
            kind, lines = found[-1]
            lines.append(("" if line == "#" else line.removeprefix("# ")) if kind == "markdown" else line)
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in found]


def notebook(source):
    """The notebook of `source`, as the text of an .ipynb file."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    for i, (kind, text) in enumerate(cells(source), start=1):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell.id = f"cell-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def execute(text, timeout=900):
    """The notebook `text` run top to bottom in a fresh python3 kernel in notebooks/, as the text of an .ipynb
    file with its outputs (no timings). A failing cell raises nbclient's CellExecutionError."""
    from nbclient import NotebookClient  # the notebook extra; writing tutorial.ipynb needs only nbformat

    nb = nbformat.reads(text, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return nbformat.writes(nb) + "\n"


def same_cells(a, b):
    """Whether two .ipynb texts hold the same cells (ids, kinds and sources), whatever their outputs."""
    def key(text):
        return [(c.get("id"), c["cell_type"], "".join(c["source"])) for c in json.loads(text)["cells"]]

    return key(a) == key(b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a notebook differs")
    args = parser.parse_args(argv)
    text = notebook(SOURCE.read_text())
    if args.check:
        if not NOTEBOOK.exists() or NOTEBOOK.read_text() != text:
            sys.exit(f"{NOTEBOOK.name} is out of date with {SOURCE.name}: run python notebooks/build.py")
        if not EXECUTED.exists() or not same_cells(EXECUTED.read_text(), text):
            sys.exit(f"{EXECUTED.name} is out of date with {SOURCE.name}: run python notebooks/build.py")
        return
    NOTEBOOK.write_text(text)
    print(f"wrote {NOTEBOOK} ({len(cells(SOURCE.read_text()))} cells)")
    try:
        executed = execute(text)
    except ModuleNotFoundError:
        sys.exit(f"{EXECUTED.name} not written: {NEEDS}")
    EXECUTED.write_text(executed)
    print(f"wrote {EXECUTED} (run top to bottom, with its outputs)")


if __name__ == "__main__":
    main()
