"""Side-by-side benchmark: scratchnet against PyTorch and JAX on the same work, as ratios measured in one run.

    python -m benchmarks.run                    # the tutorial's model, idle and busy, then the sweep (many minutes)
    python -m benchmarks.run --quick            # a smoke test: every contender a few steps (minutes on a busy machine)
    python -m benchmarks.run --threads 1        # every engine on one thread (default: auto; torch's also on its own)
    python -m benchmarks.run --only "JAX jit,scratchnet fused"   # some contenders (the baselines always run)
    python -m benchmarks.run --device cuda      # scratchnet on CuPy vs torch CUDA eager vs torch CUDA graphs

Each contender runs in a process of its own (benchmarks/worker.py), built from the same initial weights;
after a warm-up they run interleaved (A B C … A B C …), one at a time, and every figure is a median over
the repeats. Then the same again while a process of the benchmark's own keeps one core busy (the "busy"
column). Writes a Markdown table to stdout, and results.json, results.md and benchmark.png to --out; the last
line says how long the run took, from the start to the last file written (results.json's elapsed_s).
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace

from benchmarks.busy import BusyCore
from benchmarks.limits import LIMIT_SIZE, epoch_flops
from benchmarks.machine import kernel_line, machine_info
from benchmarks.report import markdown, plot
from scratchnet.backend import xp_for_device
from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.fast.threads import parse_threads, pool_thread_count
from scratchnet.mnist.load import load_mnist
from scratchnet.shell.cli import OneLineParser
from scratchnet.shell.console import info, run_cli
from scratchnet.shell.fileio import atomic_write, check_outputs, non_regular

OUT_FILES = ("results.json", "results.md", "benchmark.png")  # what --out receives
TUTORIAL = [784, 512, 512, 10]
TORCH_AUTO_THREADS = ("tutorial, threads auto", "torch eager, threads auto", "torch.compile, threads auto")
CPU_CONTENDERS = {"tutorial": "torch", "torch eager": "torch", "torch.compile": "torch",
                  **dict.fromkeys(TORCH_AUTO_THREADS, "torch"), "JAX jit": "jax",
                  "scratchnet": "numpy", "scratchnet fused": "numpy", "scratchnet fused (1 thread)": "numpy",
                  "GEMM floor": "numpy", "GEMM floor (1 thread)": "numpy"}
ONE_THREAD = " (1 thread)"  # a contender so named runs with --threads 1, beside the same one on --threads
GPU_CONTENDERS = {"torch eager": "torch", "torch CUDA graphs": "torch", "scratchnet": "numpy",
                  "scratchnet fused": "numpy", "scratchnet CUDA graph": "numpy"}
# torch.compile would compile again at every point; the tutorial is torch eager
SWEPT = ("torch eager", "JAX jit", "scratchnet", "scratchnet fused", "scratchnet fused (1 thread)", "GEMM floor",
         "torch CUDA graphs", "scratchnet CUDA graph")
PEERS = ("tutorial", "torch eager", "torch.compile", *TORCH_AUTO_THREADS, "JAX jit",
         "torch CUDA graphs")  # the engines scratchnet races
BASELINES = ("torch eager", "scratchnet")  # never left out: the ratios and the sweep's step count need them


@dataclass(frozen=True)
class Plan:
    """How much a run times: the main comparison's steps per repeat (idle, busy), the step breakdown's steps,
    the GEMM floor's repeats, the sweep's points and the time each point's repeat aims at."""

    steps: int
    busy_steps: int
    breakdown_steps: int
    limit_repeats: int
    batch_sizes: tuple
    widths: tuple
    sweep_budget_s: float


QUICK = Plan(steps=50, busy_steps=20, breakdown_steps=20, limit_repeats=1, batch_sizes=(16, 256), widths=(128,),
             sweep_budget_s=0.01)
"""--quick: a smoke test that every contender builds, runs idle and busy, and agrees; not a measurement. Every engine
runs on --threads auto's count, torch's and XLA's too, so that a busy machine does not stretch it to minutes."""


def plan(args):
    """QUICK, or the full run: one epoch a repeat, the sweep up to batch 4096 (8192 on a GPU) and width 4096."""
    gpu = args.device == "cuda"
    if args.quick:
        return replace(QUICK, batch_sizes=(64, 1024), widths=(512, 2048)) if gpu else QUICK
    return Plan(steps=-(-60000 // 64), busy_steps=args.busy_steps, breakdown_steps=300, limit_repeats=5,
                batch_sizes=(64, 256, 1024, 4096, 8192) if gpu else (16, 64, 256, 1024, 4096),
                widths=(512, 1024, 2048, 4096, 8192) if gpu else (128, 1024, 2048, 4096),  # CPU: 512 is batch 64's
                sweep_budget_s=0.6)


class LeftOutError(Exception):
    """A contender could not be built or run here; the benchmark of the others still means something."""


class Contender:
    """One contender's worker process: `ask(op, **arguments)` sends a command and returns the reply."""

    def __init__(self, name, engine, args):
        self.name, self.engine = name, engine
        os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
        self.log = os.path.join(args.out, "logs", name.replace(" ", "_").replace(".", "_") + ".log")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker", engine, name, "--data-dir", args.data_dir,
                 "--device", args.device, "--threads", worker_threads(name, engine, args)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def send(self, op, **arguments):
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()

    def receive(self):
        line = self.process.stdout.readline()
        if not line:
            raise LeftOutError(f"its process ended (exit status {self.process.wait()}; see {self.log})")
        reply = json.loads(line)
        if "error" in reply:
            raise LeftOutError(f"{reply['error']} (see {self.log})")
        return reply

    def ask(self, op, **arguments):
        self.send(op, **arguments)
        return self.receive()

    def close(self):
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError):  # a worker killed already
                self.process.stdin.close()
            self.process.wait(timeout=60)


def worker_threads(name, engine, args):
    """The --threads a contender's worker runs on: 1 for a "(1 thread)" row; with --quick on auto, torch and XLA
    on auto's count for their pools (their default threads make a step 5-20 × slower on a busy machine)."""
    if name.endswith(ONE_THREAD):
        return "1"
    if args.quick and args.threads == "auto" and engine != "numpy":
        return str(pool_thread_count("auto"))
    return str(args.threads)


class Field:
    """The contenders of one run; one that fails is closed, recorded in `left_out` and dropped."""

    def __init__(self, names, args):
        self.left_out, self.contenders = {}, []
        try:
            for name, engine in names.items():
                self.contenders.append(Contender(name, engine, args))
        except BaseException:
            self.close(kill=True)
            raise

    def drop(self, contender, reason):
        if contender.name in BASELINES:
            raise ScratchnetError(f"{contender.name} failed: {reason}")
        self.left_out[contender.name] = str(reason)
        info(f"  {contender.name}: left out ({reason})")
        contender.close()
        self.contenders.remove(contender)

    def ask_all(self, op, among=None, **arguments):
        """{name: reply} of every contender (or those named in `among`): sent to all first, then read, so
        that they work in parallel (building, not timing)."""
        asked = [c for c in self.contenders if among is None or c.name in among]
        for c in asked:
            c.send(op, **arguments)
        replies = {}
        for c in asked:
            try:
                replies[c.name] = c.receive()
            except LeftOutError as e:
                self.drop(c, e)
        return replies

    def interleaved(self, steps, repeats, among=None):
        """Seconds for `steps` steps of each contender, A B C … A B C …, one at a time."""
        seconds = {}
        for repeat in range(1, repeats + 1):
            for c in [c for c in self.contenders if among is None or c.name in among]:
                try:
                    seconds.setdefault(c.name, []).append(c.ask("steps", n=steps)["seconds"])
                except LeftOutError as e:
                    self.drop(c, e)
                    seconds.pop(c.name, None)
            if among is None:  # the main comparison's repeats are long: say where it stands
                info(f"  repeat {repeat}/{repeats}: " + ", ".join(f"{n} {s[-1]:.1f} s" for n, s in seconds.items()))
        return seconds

    def get(self, name):
        return next((c for c in self.contenders if c.name == name), None)

    def close(self, kill=False):
        """End every worker: idle ones by closing their input; with `kill` (Ctrl-C, SIGTERM, an error), all of
        them at once first, mid-epoch if need be, so that none outlives the benchmark."""
        if kill:
            for c in self.contenders:
                c.process.kill()
        for c in self.contenders:
            c.close()


def per_epoch(seconds, steps, batches_per_epoch):
    return {name: statistics.median(s) * batches_per_epoch / steps for name, s in seconds.items()}


def figures(per_epoch_s, limit_s, samples, seconds, steps):
    """Each contender's s/epoch and every ratio, under one condition (idle or busy)."""
    peers = {name: s for name, s in per_epoch_s.items() if name in PEERS}
    fastest = min(peers, key=peers.get) if peers else None
    floor = per_epoch_s.get("GEMM floor")
    rows = {}
    for name, s in per_epoch_s.items():
        rows[name] = {"seconds_per_epoch": s, "samples_per_second": samples / s,
                      "ratio_to_torch_eager": s / per_epoch_s["torch eager"],
                      "ratio_to_fastest_peer": s / peers[fastest] if fastest else None,
                      "ratio_to_gemm_floor": s / floor if floor else None,
                      "ratio_to_compute_limit": s / limit_s if limit_s else None,
                      "steps_timed": steps, "seconds_measured": seconds[name]}
    return rows, fastest


def main_comparison(field, args, run):
    """Idle, then busy: every contender's figures, accuracy, memory, threads; and the compute limit."""
    info(f"building {len(field.contenders)} contenders, each in its own process (compiling, warming up)")
    memory = field.ask_all("build", sizes=TUTORIAL, batch_size=64, memory=args.device == "cpu")
    samples, batches_per_epoch = (memory["torch eager"][k] for k in ("samples", "batches_per_epoch"))
    steps, busy_steps = run.steps, run.busy_steps
    info(f"idle: {len(field.contenders)} contenders × {args.repeats} repeats × {steps} steps")
    idle_s = field.interleaved(steps, args.repeats)
    accuracy = field.ask_all("accuracy")
    threads = field.ask_all("threads")
    limit = None
    if field.get("GEMM floor"):
        measured = field.ask_all("limits", among=("GEMM floor",), repeats=run.limit_repeats).get("GEMM floor")
        if measured:
            rate = measured["sgemm_flops_per_second"]
            flops = epoch_flops(TUTORIAL, samples)
            limit = {"flops_per_epoch": flops, "sgemm_flops_per_second": rate, "sgemm_size": LIMIT_SIZE,
                     "seconds_per_epoch": flops / rate, "products": measured["products"]}
    field.ask_all("reset")
    busy_s = {}
    if args.busy_repeats:
        with BusyCore(seconds=3600) as busy:
            time.sleep(0.5)  # the busy process is spinning before the first contender starts
            info(f"busy (core {busy.core} kept busy): {len(field.contenders)} contenders × {args.busy_repeats} "
                 f"repeats × {busy_steps} steps")
            busy_s = field.interleaved(busy_steps, args.busy_repeats)
    limit_s = limit["seconds_per_epoch"] if limit else None
    idle, fastest_idle = figures(per_epoch(idle_s, steps, batches_per_epoch), limit_s, samples, idle_s, steps)
    busy, fastest_busy = (figures(per_epoch(busy_s, busy_steps, batches_per_epoch), limit_s, samples, busy_s,
                                  busy_steps) if busy_s else ({}, None))
    rows = {}
    for c in field.contenders:
        row = {"engine": c.engine, "peer": c.name in PEERS, "idle": idle.get(c.name), "busy": busy.get(c.name),
               "busy_over_idle": (busy[c.name]["seconds_per_epoch"] / idle[c.name]["seconds_per_epoch"]
                                  if c.name in busy and c.name in idle else None),
               "test_accuracy": accuracy.get(c.name, {}).get("accuracy"),
               "peak_memory_mib": memory.get(c.name, {}).get("peak_memory_mib"),
               "threads": threads.get(c.name, {}).get("threads")}
        rows[c.name] = row
    return rows, {"idle": fastest_idle, "busy": fastest_busy}, limit


def step_breakdown(field, steps, repeats):
    """Median microseconds per step in forward (with the cost), backward and update, scratchnet vs torch."""
    names = ("scratchnet", "torch eager")
    field.ask_all("phases", among=names, n=20)
    spent = {}
    for _ in range(repeats):
        for name, reply in field.ask_all("phases", among=names, n=steps).items():
            spent.setdefault(name, []).append([s / steps * 1e6 for s in reply["phases"]])
    return {name: dict(zip(("forward", "backward", "update"), [statistics.median(p) for p in zip(*s, strict=True)],
                          strict=True))
            for name, s in spent.items()}


def sweep(field, batch_sizes, widths, repeats, budget_s, busy_repeats):
    """Seconds per epoch for each swept engine as batch size, then width, grow: medians of `repeats` interleaved
    repeats after a warm-up at each shape, and for each batch size the same again with one core kept busy."""
    points = [("batch_size", m, 512, m) for m in batch_sizes] + [("width", w, w, 64) for w in widths]
    results = {"batch_size": [], "width": []}
    swept = [c.name for c in field.contenders if c.name in SWEPT]
    for axis, value, width, m in points:
        built = field.ask_all("build", among=swept, sizes=[784, width, width, 10], batch_size=m)
        batches = built["scratchnet"]["batches_per_epoch"]
        probe = field.get("scratchnet").ask("steps", n=3)["seconds"] / 3
        steps = max(3, min(batches, round(budget_s / probe)))
        field.interleaved(steps, 1, among=swept)  # warm-up at this shape, untimed: caches, pools, allocator
        seconds = field.interleaved(steps, repeats, among=swept)
        row = {"value": value, "steps_timed": steps, **per_epoch(seconds, steps, batches), "seconds_measured": seconds}
        if axis == "batch_size" and busy_repeats:
            with BusyCore(seconds=3600):
                time.sleep(0.5)
                busy = field.interleaved(steps, busy_repeats, among=swept)
            row["busy"] = per_epoch(busy, steps, batches)
        results[axis].append(row)
        info(f"  sweep {axis}={value}: " + ", ".join(f"{n} {row[n]:.3g} s/epoch" for n in seconds))
    return results


def build_parser():
    p = OneLineParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the engines run (default cpu)")
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats of one epoch each; figures are "
                                                             "medians (default 3; with --quick 1)")
    p.add_argument("--busy-repeats", type=int, default=None, help="repeats with one core kept busy (default 3, "
                                                                  "with --quick 1; 0: no busy column; on the CPU only)")
    p.add_argument("--busy-steps", type=int, default=100, help="steps per busy repeat, extrapolated to an epoch "
                                                               "(default 100: a busy torch step can take 20 × longer)")
    p.add_argument("--threads", default="auto",
                   help="BLAS threads of the scratchnet contenders and the floor: N, or auto (default: all cores but "
                        "one, scratchnet.fast.threads); with N also torch's threads, and with 1 XLA's; with auto "
                        "each torch contender runs twice, on torch's default and on auto (\"…, threads auto\")")
    p.add_argument("--only", default="", help="comma-separated contenders to run (the baselines torch eager and "
                                              "scratchnet always run)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK.steps} steps instead of whole epochs ({QUICK.busy_steps} busy), one repeat, a small "
                        "sweep, every engine on auto's thread count: a smoke test that every contender builds, runs "
                        "and agrees (about a minute), not a measurement")
    p.add_argument("--out", default="runs/bench", help="folder for results.json and the plots (default runs/bench)")
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw/, fetched when missing")
    return p


def check_device(device):
    """Refuse --device cuda, before any work, unless CuPy sees a GPU (torch is asked in its own process)."""
    if device == "cuda":
        xp_for_device("cuda")  # CuPy missing or without a GPU: one clear UsageError


def chosen(args):
    names = GPU_CONTENDERS if args.device == "cuda" else CPU_CONTENDERS
    if args.threads != "auto":  # torch's contenders run on N threads already: their auto twins would repeat them
        names = {n: e for n, e in names.items() if n not in TORCH_AUTO_THREADS}
    if not args.only:
        return dict(names)
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - set(names)
    if unknown:
        raise UsageError(f"--only: no contender {', '.join(sorted(unknown))} on {args.device}; "
                         f"choose from {', '.join(names)}")
    return {n: e for n, e in names.items() if n in wanted or n in BASELINES}


def check_out(out):
    """Refuse, before any work, an --out whose files could not be written (scratchnet.shell.fileio's checks)."""
    if not out:
        raise UsageError("--out is empty: give a folder (. for the current one)")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is {non_regular(out) or 'a file'}, not a folder: give a folder for "
                         f"{', '.join(OUT_FILES)}")
    check_outputs([(os.path.join(out, name), "--out") for name in OUT_FILES])


def main(argv=None):
    began = time.monotonic()  # what the user waits for: from here (Python is up) to the last file written
    args = build_parser().parse_args(argv)
    args.threads = parse_threads(args.threads)
    for name in ("repeats", "busy_repeats"):
        if getattr(args, name) is None:
            setattr(args, name, 1 if args.quick else 3)
    if args.repeats < 1 or args.busy_repeats < 0 or args.busy_steps < 1:
        raise UsageError("--repeats and --busy-steps must be at least 1, --busy-repeats at least 0")
    check_device(args.device)
    check_out(args.out)
    if args.device == "cuda":
        args.busy_repeats = 0  # a busy core slows the host's launches, not the GPU: not what the column asks
    results = benchmark(args, chosen(args))
    write_results(results, args.out, began)
    if results["left_out"]:
        raise ScratchnetError(f"left out of the benchmark: {', '.join(results['left_out'])} (see results.md)")
    return results


def benchmark(args, names):
    """The machine, the main comparison, the step breakdown and the sweep, as one JSON-ready dict."""
    os.makedirs(args.out, exist_ok=True)
    machine = machine_info(args.device)
    info(kernel_line(machine))
    load_mnist(args.data_dir, train=True)  # fetched once here, before the workers read it
    load_mnist(args.data_dir, train=False)
    run = plan(args)
    results = {"machine": machine, "device": args.device, "repeats": args.repeats, "steps_per_repeat": run.steps,
               "busy_repeats": args.busy_repeats, "busy_steps_per_repeat": run.busy_steps, "threads": args.threads,
               "work": "784-512-512-10, float32, batch 64, SGD lr 1e-3", "quick": args.quick}
    field = Field(names, args)
    try:
        results["main"], results["fastest_peer"], results["compute_limit"] = main_comparison(field, args, run)
        if args.device == "cpu":  # on a GPU, timing each phase would need a synchronisation inside the step
            results["breakdown"] = step_breakdown(field, run.breakdown_steps, args.repeats)
        info("sweep: time per epoch by batch size and by width")
        results["sweep"] = sweep(field, run.batch_sizes, run.widths, args.repeats, run.sweep_budget_s,
                                 args.busy_repeats)
    except BaseException:  # Ctrl-C, SIGTERM, an error: no worker may finish its epoch alone, orphaned
        field.close(kill=True)
        raise
    field.close()
    results["left_out"] = field.left_out
    results["machine"]["load_after"] = os.getloadavg()
    return results


def write_results(results, out, began):
    """The table on stdout; the plot, results.json and results.md in `out`; then the time the run took, stopped
    after the last file (the plot's matplotlib import and first font scan included), as results.json records it."""
    table = markdown(results)
    print(table)
    picture = plot(results, out)
    with atomic_write(os.path.join(out, "results.md"), "w") as f:
        f.write(table + "\n")
    results["elapsed_s"] = time.monotonic() - began
    with atomic_write(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    info(f"wrote {picture}, {os.path.join(out, 'results.md')} and results.json ({results['elapsed_s']:.0f} s)")

if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
