"""The benchmark's results as people read them: Markdown tables (results.md) and one PNG (benchmark.png).

Everything here is read from the results dict that benchmarks.run writes to results.json; nothing is measured.
"""

import os

from benchmarks.machine import kernel_line
from scratchnet.shell.fileio import atomic_write


def _figure(value, digits, suffix=""):
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def _threads(record):
    if not record:
        return "—"
    if "runs_on" in record:
        return record["runs_on"]
    if " worker" in record.get("policy", ""):
        return record["policy"].split(" on ")[0] + " (fixed pieces)"
    if "policy" in record:
        return record["policy"].split(":")[0].replace(" BLAS thread", " thread").replace(" (", ", ").rstrip(")")
    if "torch_threads" in record:
        return f"{record['torch_threads']} (torch's)"
    return "1 (XLA flag)" if "intra_op" in record.get("xla_flags", "") else "a thread per core (XLA's)"


def contender_table(results):
    busy = results["busy_repeats"] > 0
    head = ("| contender | s/epoch | samples/s | peak MiB | × torch eager | × fastest peer | × GEMM floor | "
            "× compute limit | test accuracy | threads |")
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    if busy:
        head += " busy s/epoch | busy ÷ idle | busy × fastest peer |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    for name, r in results["main"].items():
        idle = r["idle"]
        acc = "—" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}%"
        line = (f"| {name} | {idle['seconds_per_epoch']:.3f} | {idle['samples_per_second']:,.0f} | "
                f"{_figure(r['peak_memory_mib'], 0)} | {idle['ratio_to_torch_eager']:.2f} | "
                f"{_figure(idle['ratio_to_fastest_peer'], 2)} | {_figure(idle['ratio_to_gemm_floor'], 2)} | "
                f"{_figure(idle['ratio_to_compute_limit'], 2)} | {acc} | {_threads(r['threads'])} |")
        if busy:
            b = r["busy"] or {}
            line += (f" {_figure(b.get('seconds_per_epoch'), 3)} | {_figure(r['busy_over_idle'], 2)} | "
                     f"{_figure(b.get('ratio_to_fastest_peer'), 2)} |")
        lines.append(line)
    limit = results.get("compute_limit")
    if limit:
        lines.append(f"| compute limit | {limit['seconds_per_epoch']:.3f} | — | — | — | — | — | 1.00 | — | all |"
                     + (" — | — | — |" if busy else ""))
    fastest = results["fastest_peer"]
    lines += ["", f"Fastest peer: {fastest['idle']} idle" + (f", {fastest['busy']} busy" if busy else "") + "."]
    if limit:
        lines.append(f"Compute limit: {limit['flops_per_epoch']:.3g} FLOPs per epoch (the 8 products of every step) "
                     f"at {limit['sgemm_flops_per_second'] / 1e9:.1f} GFLOP/s, the best rate of one "
                     f"{limit['sgemm_size']}³ float32 sgemm measured here.")
    if busy:
        lines.append(f"Busy: while a process of the benchmark's own spins on one core; {results['busy_repeats']} "
                     f"repeats of {results['busy_steps_per_repeat']} steps, extrapolated to an epoch.")
    return lines


def product_table(limit):
    lines = ["", "### The 8 products of one step at batch 64, each alone (µs, median)", "",
             "| product | M × N × K | µs | GFLOP/s | of the compute limit |", "|---|---|---:|---:|---:|"]
    for p in limit["products"]:
        lines.append(f"| {p['product']} | {' × '.join(map(str, p['shape']))} | {p['microseconds']:.0f} | "
                     f"{p['gflops']:.1f} | {100 * p['fraction_of_limit']:.0f}% |")
    return lines


NOT_CONTENDERS = ("value", "steps_timed", "seconds_measured", "busy")  # the other keys of a sweep's row


def swept_names(rows):
    return list(dict.fromkeys(n for r in rows for n in r if n not in NOT_CONTENDERS))


def sweep_table(rows, label):
    names = swept_names(rows)
    peers = [n for n in names if n in ("torch eager", "JAX jit", "torch CUDA graphs")]
    ours = [n for n in names if n.startswith("scratchnet")]
    lines = ["", f"### Seconds per epoch by {label}", "",
             "| value | " + " | ".join(names) + " | " + " | ".join(f"{n} ÷ fastest peer" for n in ours) + " |",
             "|---:|" + "---:|" * (len(names) + len(ours))]
    for r in rows:
        fastest = min(r[n] for n in peers if n in r)
        lines.append(f"| {r['value']} | " + " | ".join(f"{r[n]:.3g}" if n in r else "—" for n in names) + " | " +
                     " | ".join(f"{r[n] / fastest:.2f}" if n in r else "—" for n in ours) + " |")
    return lines


def markdown(results):
    lines = [f"### Tutorial model {results['work']}, {results['repeats']} repeats of {results['steps_per_repeat']} "
             "steps, medians", ""] + contender_table(results)
    if results.get("compute_limit"):
        lines += product_table(results["compute_limit"])
    if results.get("breakdown"):
        lines += ["", "### One step, µs (median)", "", "| engine | forward + cost | backward | update | total |",
                  "|---|---:|---:|---:|---:|"]
        for name, p in results["breakdown"].items():
            lines.append(f"| {name} | {p['forward']:.0f} | {p['backward']:.0f} | {p['update']:.0f} | "
                         f"{sum(p.values()):.0f} |")
    for axis, label in (("batch_size", "batch size (hidden 512)"), ("width", "hidden width (batch 64)")):
        lines += sweep_table(results["sweep"][axis], label)
    busy = [{"value": r["value"], **r["busy"]} for r in results["sweep"]["batch_size"] if "busy" in r]
    if busy:
        lines += sweep_table(busy, "batch size (hidden 512), one core busy")
    for name, reason in results.get("left_out", {}).items():
        lines += ["", f"Left out: {name}: {reason}"]
    lines += ["", kernel_line(results["machine"])]
    return "\n".join(lines)


def plot(results, out):
    import matplotlib  # the bench extra; imported here so that the tables need no matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    names = list(results["main"])
    y = range(len(names))
    idle = [results["main"][n]["idle"]["seconds_per_epoch"] for n in names]
    axes[0].barh([i - 0.2 for i in y], idle, height=0.4, color="C0", label="idle")
    if results["busy_repeats"]:
        busy = [(results["main"][n]["busy"] or {}).get("seconds_per_epoch", 0) for n in names]
        axes[0].barh([i + 0.2 for i in y], busy, height=0.4, color="C3", label="one core busy")
    if results.get("compute_limit"):
        axes[0].axvline(results["compute_limit"]["seconds_per_epoch"], color="k", ls="--", lw=1,
                        label="compute limit")
    axes[0].set_yticks(list(y), names)
    axes[0].set_xscale("log")
    axes[0].set(xlabel="seconds per epoch (log)", title=f"Tutorial model, batch 64, {results['device']}")
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8)
    _sweep_panel(axes[1], results["sweep"]["batch_size"], "batch size (hidden 512)")
    _sweep_panel(axes[2], results["sweep"]["width"], "hidden width (batch 64)")
    fig.suptitle(kernel_line(results["machine"]).splitlines()[0], fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "benchmark.png")
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path


def _sweep_panel(ax, rows, label):
    """One sweep's panel: seconds per epoch against the swept value, idle (solid) and one core busy (dashed)."""
    import matplotlib.ticker

    said_busy = False
    for i, name in enumerate(swept_names(rows)):
        ax.loglog([r["value"] for r in rows if name in r], [r[name] for r in rows if name in r], "o-",
                  color=f"C{i + 1}", label=name)
        busy = [(r["value"], r["busy"][name]) for r in rows if name in r.get("busy", {})]
        if busy:  # each engine's own colour, dashed; one legend entry says what dashed means
            ax.loglog(*zip(*busy, strict=True), "x--", color=f"C{i + 1}", lw=0.8,
                      label=None if said_busy else "dashed: one core busy")
            said_busy = True
    values = [r["value"] for r in rows]
    ax.set_xticks(values, [str(v) for v in values])  # the swept values only: log minor labels overlap
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set(xlabel=label, ylabel="seconds per epoch", title=f"Cost as the {label.split(' (')[0]} grows")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2, framealpha=0.6)
