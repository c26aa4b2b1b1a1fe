"""notebooks/tutorial.ipynb: built from notebooks/tutorial.py by notebooks/build.py, and runnable without torch.

pytest executes the whole notebook itself, through nbmake (`--nbmake` in pyproject.toml, with notebooks/ among
the test paths): nbmake is a pytest plugin on nbclient, Jupyter's own executor, so a failing cell fails the
run like any test. Here: the committed notebook is exactly what the build script makes of the source (no
outputs, nothing edited by hand), and its cells up to the training, run in a kernel where `import torch`
fails, say that autograd is skipped and still check every equation against the engine.

    python -m pytest tests/test_notebook.py
    python -m pytest notebooks/tutorial.ipynb        # the whole notebook (about a minute on 2 cores)
"""

import importlib.util
import json
import re

import pytest

from conftest import REPO
from helpers import blocking

nbformat = pytest.importorskip("nbformat")
spec = importlib.util.spec_from_file_location("build", REPO / "notebooks" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def test_the_notebook_is_what_its_source_makes():
    assert build.NOTEBOOK.read_text() == build.notebook(build.SOURCE.read_text()), (
        "notebooks/tutorial.ipynb differs from what notebooks/tutorial.py makes: edit the .py, then run "
        "python notebooks/build.py")


def test_the_cells_hold_every_line_of_the_source():
    """Writing the notebook's cells back in the percent format gives the source again: the build drops nothing."""
    nb = json.loads(build.NOTEBOOK.read_text())
    chunks = []
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            chunks.append("# %% [markdown]\n" + "\n".join(f"# {line}" if line else "#" for line in text.split("\n")))
        else:
            chunks.append("# %%\n" + text)
    source = re.sub(r"\n{2,}(?=# %%)", "\n\n", build.SOURCE.read_text()).strip()
    assert "\n\n".join(chunks) == source
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in nb["cells"] if cell["cell_type"] == "code"), "the notebook is committed without outputs"


def test_the_notebook_runs_without_torch():
    """The cells before "5. Training", torch blocked: the autograd column is skipped, the engine's is checked."""
    from nbclient import NotebookClient

    nb = nbformat.reads(build.NOTEBOOK.read_text(), as_version=4)
    training = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## 5. Training" in c.source)
    nb.cells = [nbformat.v4.new_code_cell(blocking("torch"))] + nb.cells[:training]
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(build.HERE)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "torch is not installed: the autograd comparisons are skipped" in printed
    assert "autograd" not in printed.split("no autograd column below")[-1], "an autograd value without torch"
    differences = [float(line.split("= ")[1]) for line in printed.splitlines() if "max |this − engine|" in line]
    assert len(differences) == 1 + 2 + 6 + 1 and max(differences) < 1e-6, printed
