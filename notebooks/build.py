"""Make notebooks/tutorial.ipynb from notebooks/tutorial.py, its source, without outputs.

    python notebooks/build.py            # write tutorial.ipynb
    python notebooks/build.py --check    # exit 1 when tutorial.ipynb is not what tutorial.py makes

The source is plain Python in the "percent" format that Jupytext and VS Code read: a line `# %%` starts a code
cell, `# %% [markdown]` a Markdown cell whose lines are comments (`# ` is taken off each). The notebook is
written the same way every time (cell ids numbered, no outputs, no execution counts), so that a test can
compare it with the source byte for byte: pytest executes the notebook (nbmake), and tests/test_notebook.py
fails when it was edited by hand instead of through this script.
"""

import argparse
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
SOURCE, NOTEBOOK = HERE / "tutorial.py", HERE / "tutorial.ipynb"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the notebook differs")
    args = parser.parse_args(argv)
    text = notebook(SOURCE.read_text())
    if args.check:
        if not NOTEBOOK.exists() or NOTEBOOK.read_text() != text:
            sys.exit(f"{NOTEBOOK.name} is out of date with {SOURCE.name}: run python notebooks/build.py")
        return
    NOTEBOOK.write_text(text)
    print(f"wrote {NOTEBOOK} ({len(cells(SOURCE.read_text()))} cells)")


if __name__ == "__main__":
    main()
