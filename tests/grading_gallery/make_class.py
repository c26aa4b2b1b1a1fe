"""Write a class of 30 varied submissions, for docs/teaching.md's class run (python -m scratchnet.grade --class).

    python tests/grading_gallery/make_class.py /tmp/class30
    python -m scratchnet.grade --class /tmp/class30 --out /tmp/class30-summary --jobs auto

Eight correct ones (the gallery's seven styles and the hand-out's solution), sixteen with a catalogued mistake
each (scratchnet/grade/mistakes.py, the common ones more than once, in all three layouts), two untouched
hand-outs, and four that are no backprop or cannot run: torch imported, log(softmax), central differences
(tests/test_grade_cases.py's shortcuts) and the gallery's notebook that does not compile.
"""

import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the shortcuts of test_grade_cases

from scratchnet.grade.handout import solution_source, stub_source  # noqa: E402
from scratchnet.grade.mistakes import CATALOGUE, mutant_source  # noqa: E402
from test_grade_cases import SHORTCUTS, edited  # noqa: E402

CORRECT = ("rows_student.py", "columns_student.py", "per_sample_student.py", "rows_einsum.py",
           "columns_batch_loop.py", "rows_float32.py", "rows_notebook.ipynb")
MISTAKES = (  # (catalogued mistake, layout), the common ones more than once
    ("σ′ taken at a^[l] instead of z^[l] (BP2)", "rows"), ("σ′ taken at a^[l] instead of z^[l] (BP2)", "columns"),
    ("σ′ taken at a^[l] instead of z^[l] (BP2)", "per-sample"), ("σ′ dropped (BP2)", "rows"),
    ("missing 1/m (BP1, cross-entropy)", "rows"), ("missing 1/m (BP1, cross-entropy)", "columns"),
    ("sign of onehot flipped (BP1)", "per-sample"), ("dW transposed (BP4)", "columns"),
    ("dW transposed (BP4)", "rows"), ("bias gradient averaged, a second 1/m (BP3)", "rows"),
    ("bias gradient averaged, a second 1/m (BP3)", "columns"), ("W not transposed (forward)", "columns"),
    ("the update with + instead of −", "rows"), ("the sum not divided by m (update)", "per-sample"),
    ("σ′ dropped at the output (BP1, quadratic)", "rows"), ("σ′ dropped at the output (BP1, quadratic)", "columns"),
)


def write_class(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(CORRECT, 1):
        shutil.copy(HERE / name, out / f"s{i:02d}_{name}")
    files = {"s08_solution.py": solution_source("rows")}
    by_name = {m.name: m for m in CATALOGUE}
    for i, (name, layout) in enumerate(MISTAKES, 9):
        files[f"s{i:02d}_{layout}.py"] = mutant_source(by_name[name], layout)
    files["s25_handout.py"] = stub_source("rows")
    files["s26_handout.py"] = stub_source("per-sample")
    files["s27_torch.py"] = solution_source("rows").replace("import numpy as np", "import numpy as np\nimport torch")
    files["s28_log_softmax.py"] = edited(solution_source("rows"), SHORTCUTS["log(softmax)"])
    files["s29_central_differences.py"] = edited(solution_source("rows"),
                                                 SHORTCUTS["central differences of a surrogate cost"])
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    shutil.copy(HERE / "broken_syntax.ipynb", out / "s30_broken_syntax.ipynb")
    return sorted(out.iterdir())


if __name__ == "__main__":
    print(f"wrote {len(write_class(sys.argv[1]))} submissions in {sys.argv[1]}")
