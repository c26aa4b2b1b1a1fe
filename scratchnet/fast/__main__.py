"""python -m scratchnet.fast: what the CPU fast path is on this machine.

    python -m scratchnet.fast            # the BLAS the fused step calls, its kernel, the thread policy
    python -m scratchnet.fast --path     # and where the library is (a path on this machine)

The BLAS line is scratchnet.fast.blas's, the thread policy scratchnet.fast.threads's (--threads auto), and the
kernel line what `python -m scratchnet.fast.kernel` measured and recorded here (scratchnet.fast.kernel_choice).
"""

import sys

from scratchnet.fast.blas import blas_line, cpu_blas
from scratchnet.fast.kernel_choice import advice
from scratchnet.fast.threads import BlasThreads
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import run_cli

UNMEASURED = "kernel: as DYNAMIC_ARCH picked it (python -m scratchnet.fast.kernel measures them)"


def main(argv=None):
    parser = OneLineParser(prog="python -m scratchnet.fast", description=__doc__.splitlines()[0])
    parser.add_argument("--path", action="store_true", help="also print where the library is (a path on this machine)")
    args = parser.parse_args(argv)
    print(blas_line())
    print(f"threads (--threads auto): {BlasThreads('auto').describe()}")
    blas = cpu_blas()
    if blas is not None:
        print(advice(blas) or UNMEASURED)
    if args.path and blas is not None:
        print(f"library: {blas.path}")


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
