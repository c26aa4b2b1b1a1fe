"""The links from docs/backprop.md into the code, read back, so that other pages can point where the notes do.

A code link is written  [`TAG` · FILE Lx-Ly](../scratchnet/FILE#Lx-Ly)  (or one line: `· FILE Lx](…#Lx)`),
and TAG occurs verbatim in lines x..y of FILE; tests/test_docs.py holds every link to that.
"""

import pathlib
import re
from dataclasses import dataclass

NOTES = pathlib.Path(__file__).resolve().parents[2] / "docs" / "backprop.md"
CODE_LINK = re.compile(r"\[`(?P<tag>[^`]+)` · (?P<name>[\w./-]+) L(?P<a>\d+)(?:-L(?P<b>\d+))?\]"
                       r"\((?P<path>[^)#\s]+)#L(?P<ta>\d+)(?:-L(?P<tb>\d+))?\)")
DEF = re.compile(r"^\s*def (\w+)\(")


@dataclass(frozen=True)
class CodeLink:
    """One link of the notes: the tag it names, the file it points at, its first and last line."""

    tag: str
    path: pathlib.Path
    first: int
    last: int

    @property
    def label(self):
        """How the notes print it: "network.py L144-L145" (or "network.py L143")."""
        lines = f"L{self.first}" if self.first == self.last else f"L{self.first}-L{self.last}"
        return f"{self.path.name} {lines}"

    def lines(self):
        """The source lines the link covers."""
        return self.path.read_text().splitlines()[self.first - 1:self.last]

    def function(self):
        """The name of the function whose body holds the link's first line (None at module level)."""
        for line in reversed(self.path.read_text().splitlines()[:self.first]):
            match = DEF.match(line)
            if match:
                return match[1]
        return None


def code_links(doc=NOTES):
    """Every code link of `doc`, in order; [] when the notes are not there (an installed copy without docs/)."""
    if not doc.is_file():
        return []
    return [CodeLink(m["tag"], (doc.parent / m["path"]).resolve(), int(m["ta"]), int(m["tb"] or m["ta"]))
            for m in CODE_LINK.finditer(doc.read_text())]


def find_link(links, tag, file, function=None):
    """The first link named `tag` that points into `file` (e.g. "network.py") and, if given, `function`; or None."""
    return next((link for link in links if link.tag == tag and link.path.name == file
                 and function in (None, link.function())), None)
