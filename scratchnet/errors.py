"""The three errors a user can meet, each shown as one line, never a traceback.

`ScratchnetError` is everything the run itself ran into (a corrupt data file, no source for MNIST): exit status 1.
`UsageError`, one kind of it, is a bad request (a flag out of range, a path that cannot be written): exit status 2.
`DivergenceError`, another, is a loss that became NaN or infinite, with the step where it did: exit status 1.
Code that refuses something names the refusal `check_*` and raises one of these.
"""


class ScratchnetError(Exception):
    """A failure the user can act on; its message names the problem and what to do."""

    exit_code = 1
    prefix = "error: "  # what the command line prints before the message


class UsageError(ScratchnetError, ValueError):
    """A request that cannot be carried out as asked (bad flag value, bad shape, bad label)."""

    exit_code = 2


class DivergenceError(ScratchnetError):
    """The loss became NaN or infinite (exit status 1); the parameters are those of the step before.

    `t` numbers the bad step as opt.t counts steps (1, 2, … over the whole run), `what` says what went wrong.
    """

    def __init__(self, what, t):
        super().__init__(what)
        self.what, self.t = what, t
