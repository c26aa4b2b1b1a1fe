"""torch_ref's command lines: scratchnet.train's flags (scratchnet.run.flags), less those only scratchnet.train
has; given anyway, each of those is refused in one line that says whose flag it is.
"""

from scratchnet.run.flags import build_parser

_NO_CHECKPOINTS = "; --save, --save-every and --resume are python -m scratchnet.train's: torch_ref saves nothing"
SCRATCHNET_ONLY = {"--save": _NO_CHECKPOINTS, "--resume": _NO_CHECKPOINTS,  # --save matches --save-every too
                   "--plot-samples": "; --plot-samples is python -m scratchnet.train's: torch_ref draws no samples",
                   "--step": "; --step is python -m scratchnet.train's: torch_ref has one training step",
                   "'auto'": "; --device auto is python -m scratchnet.train's: give torch_ref cpu or cuda"}


def torch_ref_parser(prog, description, devices):
    """scratchnet.train's parser without its own flags and with only `devices`, for a torch_ref command."""
    parser = build_parser(prog, description, scratchnet_flags=False, devices=devices)
    parser.elsewhere = SCRATCHNET_ONLY
    return parser
