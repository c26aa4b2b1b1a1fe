"""The links from docs/backprop.md (and README.md) into the code, against the code they point at.

The convention, strict so that a link cannot rot silently: every link to a line range is written

    [`TAG` · FILE Lx-Ly](../scratchnet/FILE#Lx-Ly)        (or a single line: `· FILE Lx](…#Lx)`)

and TAG, verbatim, must occur in lines x..y of FILE. The file and lines in the link text must equal those
in the target, the range must exist and span at most MAX_SPAN lines. Every line of scratchnet/*.py that
carries an equation tag (BP1)–(BP4) in a `#` comment must lie inside a link with that tag, and every other
relative link (pictures, files) must point at something that exists. A test moves every link by a few lines
and checks that the checker catches each one; another moves the code under a copy of the notes (lines added
to network.py, step.py into a folder) and checks that `python -m scratchnet.teaching.doclinks --fix` repairs
every link, and, in a git repository, that it follows the code the link covered when it was committed.

    python -m pytest tests/test_docs.py
"""

import re
import shutil
import subprocess

import pytest

from scratchnet.teaching.doclinks import CODE_LINK, fix_links, main

from conftest import REPO

DOCS = [REPO / "docs" / "backprop.md", REPO / "README.md"]
MAX_SPAN = 12
ANY_LINE_LINK = re.compile(r"\]\([^)\s]*#L\d+[^)\s]*\)")
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#|mailto:)(?P<path>[^)#\s]+)(?:#[^)\s]*)?\)")
BP_COMMENT = re.compile(r"#.*\((BP[1-4])\)")


def code_links(doc):
    """(tag, file path, first line, last line, the link's source text) of every code link in `doc`."""
    links = []
    for match in CODE_LINK.finditer(doc.read_text()):
        first, last = int(match["ta"]), int(match["tb"] or match["ta"])
        links.append((match["tag"], (doc.parent / match["path"]).resolve(), first, last, match))
    return links


def link_errors(tag, path, first, last, match=None):
    """What is wrong with one code link, or [] when it holds: file, range, text and tag."""
    where = match[0] if match else f"{path.name} L{first}-L{last}"
    if not path.is_file():
        return [f"{where}: {path} does not exist"]
    lines = path.read_text().splitlines()
    errors = []
    if match is not None:
        if match["name"] != path.name:
            errors.append(f"{where}: the text names {match['name']}, the link goes to {path.name}")
        if (match["a"], match["b"]) != (match["ta"], match["tb"]):
            errors.append(f"{where}: the text's lines differ from the link's")
    if not 1 <= first <= last <= len(lines):
        return [*errors, f"{where}: lines {first}-{last} are not in {path.name} ({len(lines)} lines)"]
    if last - first + 1 > MAX_SPAN:
        errors.append(f"{where}: {last - first + 1} lines; link at most {MAX_SPAN}, the lines that hold the tag")
    if tag not in "\n".join(lines[first - 1:last]):
        errors.append(f"{where}: {tag!r} is not in {path.name} lines {first}-{last}")
    return errors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_code_link_holds(doc):
    if not doc.exists():
        pytest.skip(f"{doc.name} does not exist")
    text = doc.read_text()
    links = code_links(doc)
    assert len(ANY_LINE_LINK.findall(text)) == len(links), (
        "a link to a line (#L…) does not follow the convention [`TAG` · FILE Lx-Ly](path#Lx-Ly)")
    errors = [e for tag, path, first, last, match in links for e in link_errors(tag, path, first, last, match)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_exists(doc):
    if not doc.exists():
        pytest.skip(f"{doc.name} does not exist")
    missing = [m["path"] for m in RELATIVE_LINK.finditer(doc.read_text()) if not (doc.parent / m["path"]).exists()]
    assert not missing, f"{doc.name} links to missing files: {missing}"


def test_every_tagged_line_is_linked():
    """Each line of scratchnet's engine and fast paths with `# … (BPk)` lies in a doc link whose tag is (BPk)."""
    links = [link for doc in DOCS if doc.exists() for link in code_links(doc)]
    unlinked = []
    for source in sorted([*(REPO / "scratchnet").glob("*.py"), *(REPO / "scratchnet" / "fast").glob("*.py")]):
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            for tag in BP_COMMENT.findall(line):
                if not any(t == f"({tag})" and p == source and a <= number <= b for t, p, a, b, _ in links):
                    unlinked.append(f"{source.name} L{number}: ({tag})")
    assert not unlinked, "tagged lines no docs link points at: " + ", ".join(unlinked)


def test_all_four_equations_are_linked():
    tags = {tag for tag, *_ in code_links(REPO / "docs" / "backprop.md")}
    assert {"(BP1)", "(BP2)", "(BP3)", "(BP4)"} <= tags


@pytest.mark.parametrize("shift", [-3, 3])
def test_a_link_off_by_a_few_lines_is_caught(shift):
    """The checker must fail every link moved by `shift` lines: no tag is so common that drift hides."""
    uncaught = [f"{path.name} L{first}-L{last} {tag!r}"
                for tag, path, first, last, _ in code_links(REPO / "docs" / "backprop.md")
                if not link_errors(tag, path, first + shift, last + shift)]
    assert not uncaught, f"still pass when moved by {shift} lines (choose a more specific tag): {uncaught}"


def copy_of_the_notes(tmp_path):
    """docs/backprop.md and every file it links, copied into tmp_path with the same layout; the copy's path."""
    notes = REPO / "docs" / "backprop.md"
    for path in {path for _, path, *_ in code_links(notes)}:
        (tmp_path / path.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / path.relative_to(REPO))
    (tmp_path / "docs").mkdir(exist_ok=True)
    shutil.copy(notes, tmp_path / "docs" / "backprop.md")
    return tmp_path / "docs" / "backprop.md"


def test_fix_repairs_links_after_the_code_moves(tmp_path):
    """Three lines added at the top of network.py and step.py moved into a folder: every link of those two files
    breaks, and --fix (outside git: by the nearest place the tag holds) makes every link hold again."""
    doc = copy_of_the_notes(tmp_path)
    network = tmp_path / "scratchnet" / "network.py"
    network.write_text("# one\n# two\n# three\n" + network.read_text())
    (tmp_path / "scratchnet" / "engine").mkdir()
    shutil.move(tmp_path / "scratchnet" / "step.py", tmp_path / "scratchnet" / "engine" / "step.py")
    moved = [link for link in code_links(doc) if link[1].name in ("network.py", "step.py")]
    assert len(moved) > 10 and all(link_errors(*link) for link in moved), "every moved link is broken first"
    assert main(["--doc", str(doc)]) == 1, "the check alone reports them"
    changed, problems = fix_links(doc)
    assert problems == [] and changed == len(moved)
    errors = [e for link in code_links(doc) for e in link_errors(*link)]
    assert not errors, "\n".join(errors)
    assert "](../scratchnet/engine/step.py#L" in doc.read_text()
    assert main(["--doc", str(doc)]) == 0


def test_fix_names_a_tag_it_cannot_find(tmp_path):
    doc = copy_of_the_notes(tmp_path)
    losses = tmp_path / "scratchnet" / "losses.py"
    losses.write_text(losses.read_text().replace("(BP1)", "(BPx)"))
    changed, problems = fix_links(doc)
    assert problems and all("'(BP1)' is nowhere in losses.py" in problem for problem in problems)


def test_fix_follows_the_code_the_link_covered_when_committed(tmp_path):
    """In git, --fix prefers the place most like the lines the link covered at its last commit over a nearer line
    that merely holds the tag (here a comment moved in just above the old place)."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "docs").mkdir()
    (tmp_path / "scratchnet").mkdir()
    code = tmp_path / "scratchnet" / "a.py"
    code.write_text("def update(theta, g, lr):\n    g = g + 0\n    theta -= lr * g  # θ ← θ − α g\n")
    doc = tmp_path / "docs" / "notes.md"
    doc.write_text("The update [`θ ← θ − α g` · a.py L3](../scratchnet/a.py#L3).\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "notes")
    code.write_text("# the rule θ ← θ − α g, said first\n" + "\n" * 8 + code.read_text().replace("lr * g", "alpha * g"))
    changed, problems = fix_links(doc)
    assert (changed, problems) == (1, [])
    assert "[`θ ← θ − α g` · a.py L12](../scratchnet/a.py#L12)" in doc.read_text()
