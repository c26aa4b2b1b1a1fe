"""notebooks/tutorial.ipynb and its executed copy: built from notebooks/tutorial.py by notebooks/build.py, and
runnable without torch.

Here: the committed notebook is exactly what the build script makes of the source (no outputs, nothing
edited by hand); tutorial.executed.ipynb, the copy with outputs that GitHub shows, holds the very same cells,
each run once, in order, without an error; the whole notebook runs top to bottom through nbclient, Jupyter's
own executor, so that a failing cell fails the suite like any test; and its cells up to the training, run in
a kernel where `import torch` fails, say that autograd is skipped and still check every equation against the
engine. Without the notebook extra (nbformat, nbclient, ipykernel) these tests skip, saying what to install.

    python -m pytest tests/test_notebook.py
    python notebooks/build.py        # after editing tutorial.py: both notebooks again (about a minute on 2 cores)
"""

import importlib.util
import json
import re

import pytest

from conftest import REPO
from helpers import blocking

NEEDS = "the notebook extra: pip install -e '.[notebook]'"
nbformat = pytest.importorskip("nbformat", reason=f"nbformat is not installed ({NEEDS})")
spec = importlib.util.spec_from_file_location("build", REPO / "notebooks" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def code_cells(text):
    return [cell for cell in json.loads(text)["cells"] if cell["cell_type"] == "code"]


def printed(cells):
    return "".join("".join(o.get("text", "")) for cell in cells for o in cell["outputs"])


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


def test_the_executed_copy_is_the_notebook_run_in_order():
    """tutorial.executed.ipynb: the notebook's very cells, every code cell run once in order, none failed, the
    training printed to its end and the three pictures shown."""
    executed = build.EXECUTED.read_text()
    assert build.same_cells(executed, build.NOTEBOOK.read_text()), (
        "notebooks/tutorial.executed.ipynb holds other cells than tutorial.ipynb: run python notebooks/build.py")
    cells = code_cells(executed)
    assert [cell["execution_count"] for cell in cells] == list(range(1, len(cells) + 1))
    assert not [o for cell in cells for o in cell["outputs"] if o["output_type"] == "error"]
    assert "Epoch 3\n" in printed(cells) and "Done!" in printed(cells)
    images = [o for cell in cells for o in cell["outputs"] if "image/png" in o.get("data", {})]
    assert len(images) == 3, "the samples, the curves and the predictions"


@pytest.mark.slow
def test_the_whole_notebook_runs_top_to_bottom():
    """Every cell, in a fresh kernel, as a reader runs it: no cell fails, and it prints the tutorial's lines."""
    pytest.importorskip("nbclient", reason=f"nbclient is not installed ({NEEDS})")
    pytest.importorskip("ipykernel", reason=f"ipykernel is not installed ({NEEDS})")
    cells = code_cells(build.execute(build.NOTEBOOK.read_text()))
    out = printed(cells)
    assert out.count("Test Error: \n Accuracy: ") == 3 and "Done!\n" in out, out


def test_the_notebook_runs_without_torch():
    """The cells before "5. Training", torch blocked: the autograd column is skipped, the engine's is checked."""
    pytest.importorskip("nbclient", reason=f"nbclient is not installed ({NEEDS})")
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
