"""The shortcut policy's source half (scratchnet/grade/policy.py): what a submission may not use is refused with
its line, what it may use is not, and a teacher's --allow permits more. Source checks only: no child runs.

    python -m pytest tests/test_grade_policy.py
"""

import pytest

from scratchnet.grade.handout import LAYOUTS, solution_source, stub_source
from scratchnet.grade.policy import FORBIDDEN_MODULES, child_policy, source_problems
from scratchnet.grade.source import Submission

REFUSED = {  # a line of a submission → what the report must say
    "import torch": "import torch (line 2 of hw.py): an automatic-differentiation library",
    "import jax.numpy as jnp": "import jax.numpy (line 2 of hw.py): an automatic-differentiation library",
    "from scratchnet.network import Network": "import scratchnet.network (line 2 of hw.py): the reference engine",
    "from torch_ref import autograd": "import torch_ref (line 2 of hw.py): the reference engine",
    "import importlib": "import importlib (line 2 of hw.py): it runs code the file did not write",
    "m = __import__('tor' + 'ch')": "__import__ (line 2 of hw.py): it runs code",
    "exec(source)": "exec (line 2 of hw.py): it runs code",
    "f = eval": "eval (line 2 of hw.py)",
    "code = compile(s, 'x', 'exec')": "compile (line 2 of hw.py)",
    "text = open('/work/key.py').read()": "open (line 2 of hw.py): it reaches into the grader's process or files",
    "import sys": "import sys (line 2 of hw.py): it reaches into the grader",
    "import gc": "import gc (line 2 of hw.py)",
    "key = np.load('answers.npy')": ".load (line 2 of hw.py): it reads files",
    "cls = ().__class__.__subclasses__()": ".__class__ (line 2 of hw.py)",
    "import scipy": "import scipy (line 2 of hw.py): a submission may import numpy, math only",
}


def problems(line, allow=()):
    return source_problems(Submission("hw.py", f"import numpy as np\n{line}\n"), allow)


@pytest.mark.parametrize("line", REFUSED)
def test_each_shortcut_is_refused_with_its_line(line):
    found = problems(line)
    assert found and found[0].startswith("not allowed in this exercise: "), found
    assert REFUSED[line] in found[0], found


def test_an_import_inside_a_function_is_seen():
    source = "import numpy as np\n\ndef backward(W, a, z, d, s):\n    import torch\n    return torch\n"
    assert problems_of(source) == ["not allowed in this exercise: import torch (line 4 of hw.py): "
                                   "an automatic-differentiation library: the exercise is to write the gradients "
                                   "yourself"]


def problems_of(source, allow=()):
    return source_problems(Submission("hw.py", source), allow)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_handouts_and_honest_code_pass(layout):
    assert problems_of(solution_source(layout)) == []
    assert problems_of(stub_source(layout)) == []
    honest = ("import math\nfrom typing import Dict\nimport numpy as np\n\nclass Net:\n    def __init__(self):\n"
              "        self.k = math.sqrt(2)\n\nif __name__ == '__main__':\n    print(np.exp(1))\n")
    assert problems_of(honest) == []


def test_a_teacher_allows_more():
    assert problems("import scipy.special", allow=("scipy",)) == []
    assert problems("text = open('data.txt').read()", allow=("open",)) == []
    assert problems("import torch", allow=("scipy",))


def test_the_child_gets_the_lists_as_plain_data():
    policy = child_policy(allow=("os",))
    assert all(isinstance(v, tuple) for v in policy.values())
    assert "numpy" in policy["allowed_modules"] and "os" in policy["allowed_modules"]
    forbidden = dict(policy["forbidden_modules"])
    assert "os" not in forbidden and set(forbidden) == set(FORBIDDEN_MODULES) - {"os"}
    assert {"exec", "eval", "compile", "__import__", "open"} <= set(policy["forbidden_builtins"])


def test_the_handout_states_the_policy():
    text = solution_source("rows")
    assert "Use NumPy and math only" in text and "torch_ref" in text and "exec/eval/compile" in text
