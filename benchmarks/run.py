"""Side-by-side benchmark: scratchnet against PyTorch on the same work, as ratios measured in one run.

    python -m benchmarks.run                    # the tutorial's model: 3 repeats of one epoch each, then the sweep
    python -m benchmarks.run --quick            # a few hundred steps and a small sweep (the CI smoke test)
    python -m benchmarks.run --out runs/bench --repeats 5
    python -m benchmarks.run --device cuda      # scratchnet on CuPy vs torch CUDA eager vs torch CUDA graphs
    OPENBLAS_CORETYPE= python -m benchmarks.run # numpy's native BLAS kernel (see benchmarks/README.md)

In one process, after a warm-up, the contenders run interleaved (A B C D A B C D …) and every figure is a
median over the repeats. Writes a Markdown table to stdout, and results.json and PNG plots to --out.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

from benchmarks.contenders import (
    CONTENDERS,
    GPU_CONTENDERS,
    GemmFloor,
    Scratchnet,
    ScratchnetFused,
    TorchEager,
    Work,
)
from benchmarks.machine import kernel_line, machine_info
from benchmarks.memory import peak_memory_mib
from scratchnet.backend import xp_for_device
from scratchnet.config import TrainConfig
from scratchnet.console import info, run_cli
from scratchnet.data import load_data
from scratchnet.errors import ScratchnetError, UsageError
from scratchnet.fileio import atomic_write, check_outputs

WARMUP_STEPS = 20
OUT_FILES = ("results.json", "results.md", "benchmark.png")  # what --out receives
BASELINES = ("torch eager", "scratchnet")  # never left out: the ratios and the sweep's step count need them


def interleaved(contenders, steps, repeats):
    """Seconds for `steps` steps of each contender, A B C D A B C D …, after a warm-up and a reset."""
    for c in contenders:
        c.steps(WARMUP_STEPS)
        c.reset()
        c.sync()
    seconds = {c.name: [] for c in contenders}
    for _ in range(repeats):
        for c in contenders:
            start = time.perf_counter()
            c.steps(steps)
            c.sync()
            seconds[c.name].append(time.perf_counter() - start)
    return seconds


def build_contenders(classes, work, failed):
    """Each contender on `work`; one that cannot be built here (a CUDA graph the driver refuses, say) is left
    out, with its reason in `failed`, instead of ending the whole benchmark."""
    contenders = []
    for cls in classes:
        try:
            contender = cls(work)
            contender.steps(2)  # a contender that fails fails here, before any timing
            contender.reset()
            contender.sync()
            contenders.append(contender)
        except Exception as e:  # report it in the results: a benchmark of the others still means something
            if cls.name in BASELINES:
                raise  # every ratio is taken against these
            failed[cls.name] = f"{type(e).__name__}: {e}"
            info(f"  {cls.name}: left out ({failed[cls.name]})")
    return contenders


def main_comparison(work, contenders_by_name, steps, repeats, failed):
    """Table rows for the contenders: seconds/epoch, samples/s, memory, ratios, accuracy."""
    contenders = build_contenders(contenders_by_name.values(), work, failed)
    seconds = interleaved(contenders, steps, repeats)
    per_epoch = {name: statistics.median(s) * work.batches_per_epoch / steps for name, s in seconds.items()}
    floor = per_epoch.get("GEMM floor")
    rows = {}
    for c in contenders:
        rows[c.name] = {
            "seconds_per_epoch": per_epoch[c.name],
            "samples_per_second": len(work.x_train) / per_epoch[c.name],
            "peak_memory_mib": peak_memory_mib(c.name, work.data_dir) if work.device == "cpu" else None,
            "ratio_to_torch_eager": per_epoch[c.name] / per_epoch["torch eager"],
            "ratio_to_gemm_floor": per_epoch[c.name] / floor if floor else None,
            "test_accuracy": c.accuracy(),
            "seconds_measured": seconds[c.name],
        }
    return rows


def step_breakdown(work, steps, repeats):
    """Median microseconds per step in forward (with the cost), backward and update, scratchnet vs torch."""
    contenders = [Scratchnet(work), TorchEager(work)]
    spent = {c.name: [] for c in contenders}
    for c in contenders:
        c.phases(WARMUP_STEPS, time.perf_counter)
    for _ in range(repeats):
        for c in contenders:
            spent[c.name].append(c.phases(steps, time.perf_counter) / steps * 1e6)
    return {name: dict(zip(("forward", "backward", "update"), np.median(s, axis=0).tolist(), strict=True))
            for name, s in spent.items()}


def sweep(data, data_dir, device, batch_sizes, widths, repeats, budget_s, failed):
    """Seconds per epoch for each engine (and, on the CPU, the floor) as batch size, then width, grow."""
    points = [("batch_size", m, 512, m) for m in batch_sizes] + [("width", w, w, 64) for w in widths]
    results = {"batch_size": [], "width": []}
    (x_train, y_train), (x_test, y_test) = data
    for axis, value, width, m in points:
        work = Work(x_train, y_train, x_test, y_test, [784, width, width, 10], m, data_dir=data_dir, device=device)
        contenders = build_contenders(sweep_contenders(device), work, failed)
        scratch = next(c for c in contenders if c.name == "scratchnet")
        start = time.perf_counter()
        scratch.steps(3)
        scratch.sync()
        per_step = (time.perf_counter() - start) / 3
        steps = max(3, min(work.batches_per_epoch, math.ceil(budget_s / per_step)))
        seconds = interleaved(contenders, steps, repeats)
        row = {"value": value, "steps_timed": steps}
        row.update({name: statistics.median(s) * work.batches_per_epoch / steps for name, s in seconds.items()})
        results[axis].append(row)
        info(f"  sweep {axis}={value}: " + ", ".join(f"{n} {row[n]:.3g} s/epoch" for n in seconds))
    return results


def sweep_contenders(device):
    if device == "cuda":
        return list(GPU_CONTENDERS.values())
    return [TorchEager, Scratchnet, ScratchnetFused, GemmFloor]


def _figure(value, digits):
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(results):
    lines = [f"### Tutorial model {results['work']}, {results['repeats']} repeats, medians",
             "", "| contender | s/epoch | samples/s | peak MiB | × torch eager | × GEMM floor | test accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["main"].items():
        acc = "—" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}%"
        lines.append(f"| {name} | {r['seconds_per_epoch']:.3f} | {r['samples_per_second']:,.0f} | "
                     f"{_figure(r['peak_memory_mib'], 0)} | {r['ratio_to_torch_eager']:.2f} | "
                     f"{_figure(r['ratio_to_gemm_floor'], 2)} | {acc} |")
    if results.get("breakdown"):
        lines += ["", "### One step, µs (median)", "", "| engine | forward + cost | backward | update | total |",
                  "|---|---:|---:|---:|---:|"]
        for name, p in results["breakdown"].items():
            lines.append(f"| {name} | {p['forward']:.0f} | {p['backward']:.0f} | {p['update']:.0f} | "
                         f"{sum(p.values()):.0f} |")
    for axis, label in (("batch_size", "batch size (hidden 512)"), ("width", "hidden width (batch 64)")):
        names = list(dict.fromkeys(n for r in results["sweep"][axis] for n in r if n not in ("value", "steps_timed")))
        ours = [n for n in names if n.startswith("scratchnet")]
        lines += ["", f"### Seconds per epoch by {label}", "",
                  "| value | " + " | ".join(names) + " | " + " | ".join(f"{n} ÷ torch eager" for n in ours) + " |",
                  "|---:|" + "---:|" * (len(names) + len(ours))]
        for r in results["sweep"][axis]:
            lines.append(f"| {r['value']} | " + " | ".join(f"{r[n]:.3g}" if n in r else "—" for n in names) + " | " +
                         " | ".join(f"{r[n] / r['torch eager']:.2f}" if n in r else "—" for n in ours) + " |")
    for name, reason in results.get("left_out", {}).items():
        lines += ["", f"Left out: {name}: {reason}"]
    lines += ["", kernel_line(results["machine"])]
    return "\n".join(lines)


def plot(results, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    names = list(results["main"])
    axes[0].barh(names, [results["main"][n]["seconds_per_epoch"] for n in names],
                 color=[f"C{i}" for i in range(len(names))])
    axes[0].set(xlabel="seconds per epoch", title=f"Tutorial model, batch 64, {results['device']}")
    axes[0].invert_yaxis()
    for ax, axis, label in ((axes[1], "batch_size", "batch size (hidden 512)"),
                            (axes[2], "width", "hidden width (batch 64)")):
        rows = results["sweep"][axis]
        names = dict.fromkeys(n for r in rows for n in r if n not in ("value", "steps_timed"))
        for i, name in enumerate(names):
            ax.loglog([r["value"] for r in rows if name in r], [r[name] for r in rows if name in r], "o-",
                      color=f"C{i + 1}", label=name)
        ax.set(xlabel=label, ylabel="seconds per epoch", title=f"Cost as the {label.split(' (')[0]} grows")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(kernel_line(results["machine"]).splitlines()[0], fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "benchmark.png")
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path


def build_parser():
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both engines run (default cpu)")
    p.add_argument("--epochs", type=int, default=1, help="epochs timed per repeat and contender (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats; figures are medians (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="200 steps instead of whole epochs and a small sweep: a smoke test, not a measurement")
    p.add_argument("--out", default="runs/bench", help="folder for results.json and the plots (default runs/bench)")
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw/, fetched when missing")
    return p


def check_device(device):
    """Refuse --device cuda, before any work, unless both torch and CuPy see a GPU."""
    if device == "cuda":
        xp_for_device("cuda")  # CuPy missing or without a GPU: one clear UsageError
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: torch sees no CUDA GPU; use --device cpu")


def check_out(out):
    """Refuse, before any work, an --out whose files could not be written (scratchnet.fileio's checks)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file, not a folder: give a folder for {', '.join(OUT_FILES)}")
    check_outputs([(os.path.join(out, name), "--out") for name in OUT_FILES])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.epochs < 1 or args.repeats < 1:
        raise UsageError("--epochs and --repeats must be at least 1")
    check_device(args.device)
    check_out(args.out)
    machine = machine_info(args.device)
    info(kernel_line(machine))
    data = load_data(TrainConfig(data_dir=args.data_dir), np)  # all of MNIST, float32, as the tutorial feeds it
    work = Work(*data[0], *data[1], sizes=[784, 512, 512, 10], batch_size=64, data_dir=args.data_dir,
                device=args.device)
    contenders = GPU_CONTENDERS if args.device == "cuda" else CONTENDERS
    steps = 200 if args.quick else work.batches_per_epoch * args.epochs
    info(f"main comparison: {len(contenders)} contenders × {args.repeats} repeats × {steps} steps")
    results = {"machine": machine, "device": args.device, "repeats": args.repeats, "steps_per_repeat": steps,
               "work": "784-512-512-10, float32, batch 64, SGD lr 1e-3", "quick": args.quick}
    results["left_out"] = {}
    results["main"] = main_comparison(work, contenders, steps, args.repeats, results["left_out"])
    if args.device == "cpu":  # on a GPU, timing each phase would need a synchronisation inside the step
        results["breakdown"] = step_breakdown(work, 100 if args.quick else 300, args.repeats)
    if args.device == "cuda":
        batch_sizes = (64, 1024) if args.quick else (64, 256, 1024, 4096, 8192)
        widths = (512, 2048) if args.quick else (512, 1024, 2048, 4096, 8192)
    else:
        batch_sizes = (16, 256) if args.quick else (16, 64, 256, 1024, 4096)
        widths = (128, 1024) if args.quick else (128, 512, 1024, 2048, 4096)
    info("sweep: time per epoch by batch size and by width")
    results["sweep"] = sweep(data, args.data_dir, args.device, batch_sizes, widths, args.repeats,
                             budget_s=0.05 if args.quick else 0.5, failed=results["left_out"])
    table = markdown(results)
    print(table)
    with atomic_write(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with atomic_write(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    info(f"wrote {os.path.join(args.out, 'results.json')}, results.md and {plot(results, args.out)}")
    if results["left_out"]:
        raise ScratchnetError(f"left out of the benchmark: {', '.join(results['left_out'])} (see results.md)")
    return results


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
