"""The two kinds of error a user can meet, each shown as one line, never a traceback.

`UsageError` is a bad request (a flag out of range, a path that cannot be written): exit status 2.
`ScratchnetError` is everything the run itself ran into (a corrupt data file, no source for MNIST): 1.
"""


class ScratchnetError(Exception):
    """A failure the user can act on; its message names the problem and what to do."""

    exit_code = 1
    prefix = "error: "  # what the command line prints before the message


class UsageError(ScratchnetError, ValueError):
    """A request that cannot be carried out as asked (bad flag value, bad shape, bad label)."""

    exit_code = 2
