"""Smoke test of the side-by-side benchmark: `--quick` must produce the table, the JSON and the plot.

No timing is asserted (figures belong in the benchmark's output, not in tests). What is checked: every
contender ran, each in its own process, idle and with a core kept busy; every ratio in results.json is the
quotient of the figures it names; the accuracies of all engines (torch eager, the tutorial, torch.compile,
JAX jit, scratchnet and its fused step) agree, since they trained from the same weights on the same
batches; the machine record names the BLAS, its call path and the threads `auto` ran.

    python -m pytest tests/test_benchmarks.py
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks.busy import BusyCore
from benchmarks.run import QUICK, TORCH_AUTO_THREADS, build_parser, chosen
from scratchnet.fast.threads import parse_threads

from conftest import REPO

pytest.importorskip("threadpoolctl")
pytest.importorskip("matplotlib")
pytest.importorskip("jax", reason="the benchmark's JAX jit contender needs jax: pip install -e '.[jax]'")

ENGINES = ("tutorial", "torch eager", "torch.compile", "JAX jit", "scratchnet", "scratchnet fused")
PEERS = ("tutorial", "torch eager", "torch.compile", "JAX jit")


@pytest.fixture(scope="module")
def quick(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--repeats", "1", "--busy-repeats", "1",
                           "--out", str(out), "--data-dir", mnist_dir],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads((out / "results.json").read_text()), out


pytestmark = pytest.mark.slow  # one --quick run of every contender, each in its own process: minutes


def test_every_contender_ran_idle_and_busy(quick):
    stdout, results, out = quick
    assert results["left_out"] == {}
    for name in (*ENGINES, "scratchnet fused (1 thread)", "GEMM floor", "GEMM floor (1 thread)"):
        assert f"| {name} |" in stdout
        row = results["main"][name]
        assert row["idle"]["steps_timed"] == QUICK.steps and row["busy"]["steps_timed"] == QUICK.busy_steps
        assert len(row["idle"]["seconds_measured"]) == 1 and len(row["busy"]["seconds_measured"]) == 1
    assert "| compute limit |" in stdout
    assert (out / "benchmark.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "results.md").read_text().startswith("### Tutorial model")


@pytest.mark.parametrize("condition", ["idle", "busy"])
def test_every_ratio_is_the_quotient_it_names(quick, condition):
    _, results, _ = quick
    main = {name: row[condition] for name, row in results["main"].items()}
    s = {name: row["seconds_per_epoch"] for name, row in main.items()}
    fastest = results["fastest_peer"][condition]
    assert fastest in PEERS and s[fastest] == min(s[p] for p in PEERS)
    limit = results["compute_limit"]["seconds_per_epoch"]
    for name, row in main.items():
        assert row["ratio_to_torch_eager"] == pytest.approx(s[name] / s["torch eager"])
        assert row["ratio_to_fastest_peer"] == pytest.approx(s[name] / s[fastest])
        assert row["ratio_to_gemm_floor"] == pytest.approx(s[name] / s["GEMM floor"])
        assert row["ratio_to_compute_limit"] == pytest.approx(s[name] / limit)


def test_compute_limit_is_the_epochs_flops_over_the_best_rate(quick):
    _, results, _ = quick
    limit = results["compute_limit"]
    assert limit["flops_per_epoch"] == pytest.approx(1.93e11, rel=0.005)  # 784-512-512-10, 60,000 images
    assert limit["seconds_per_epoch"] == pytest.approx(limit["flops_per_epoch"] / limit["sgemm_flops_per_second"])
    assert [p["shape"] for p in limit["products"]][:3] == [[64, 512, 784], [64, 512, 512], [64, 10, 512]]
    assert len(limit["products"]) == 8


def test_peak_memory_is_the_models_arrays_not_a_copy_of_the_data(quick):
    """Each contender holds the model's arrays (W, b in float32: 2.55 MiB; the floor its operands) and none a
    second copy of the training set (179 MiB in float32), except JAX, which puts it on its device once."""
    _, results, _ = quick
    for name, row in results["main"].items():
        if name == "JAX jit":
            assert row["peak_memory_mib"] >= 179, row["peak_memory_mib"]
        else:
            assert 2 <= row["peak_memory_mib"] < 179, (name, row["peak_memory_mib"])
    for name in ("scratchnet", "scratchnet fused"):
        assert results["main"][name]["peak_memory_mib"] >= 2.55, (name, "holds W, b and their gradients")


def test_all_engines_agree_on_accuracy(quick):
    """Same initial weights, same batches, same number of steps: every engine must reach the same accuracy."""
    _, results, _ = quick
    accuracies = {n: results["main"][n]["test_accuracy"] for n in ENGINES}
    assert max(accuracies.values()) - min(accuracies.values()) <= 0.002, accuracies
    assert results["main"]["GEMM floor"]["test_accuracy"] is None


def test_record_names_the_blas_its_path_and_the_threads(quick):
    _, results, _ = quick
    machine = results["machine"]
    assert machine["blas"], "threadpoolctl must name the BLAS that ran"
    assert machine["cpu_blas"].startswith("CPU BLAS: ")
    cores, parallel = machine["cores"], machine["cpu_blas"].startswith("CPU BLAS: numpy's OpenBLAS")
    for name in ("scratchnet", "scratchnet fused", "GEMM floor"):  # auto: every core as workers, or a core left free
        threads = results["main"][name]["threads"]
        count = cores if parallel else max(cores - 1, 1)
        assert threads["policy"].startswith(f"{count} worker" if parallel else f"{count} BLAS thread"), threads
        assert {pool["num_threads"] for pool in threads["blas"]} == {1 if parallel else count}, threads["blas"]
    assert results["main"]["scratchnet fused (1 thread)"]["threads"]["policy"].startswith("1 ")
    assert results["main"]["torch eager"]["threads"]["torch_threads"] == max(cores - 1, 1)  # --quick: auto's count
    assert "xla_flags" in results["main"]["JAX jit"]["threads"]


def test_each_contender_ran_in_a_process_of_its_own(quick):
    _, results, out = quick
    logs = {p.stem for p in (out / "logs").iterdir()}
    assert len(logs) == len(results["main"]), logs
    loaded = {name: row["threads"]["engines_loaded"] for name, row in results["main"].items()}
    assert loaded["JAX jit"] == ["jax"] and loaded["torch eager"] == ["torch"] and loaded["scratchnet fused"] == []


def test_busy_over_idle_is_each_contenders_own_slowdown(quick):
    _, results, _ = quick
    for row in results["main"].values():
        busy, idle = row["busy"]["seconds_per_epoch"], row["idle"]["seconds_per_epoch"]
        assert row["busy_over_idle"] == pytest.approx(busy / idle)


@pytest.mark.parametrize("threads, twins", [("auto", True), ("2", False)])
def test_torch_contenders_run_on_both_counts_unless_threads_are_given(threads, twins):
    """--threads auto (the full run's default): each torch contender on torch's default and on auto; --threads N:
    once, on N."""
    args = build_parser().parse_args(["--threads", threads])
    args.threads = parse_threads(args.threads)
    names = chosen(args)
    assert all((twin in names) == twins for twin in TORCH_AUTO_THREADS)
    assert {"tutorial", "torch eager", "torch.compile"} <= set(names)


def test_bad_flags_are_one_line_and_exit_2():
    for flags in (["--threads", "0"], ["--only", "no such engine"]):
        done = subprocess.run([sys.executable, "-m", "benchmarks.run", *flags], cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_sweep_covers_every_swept_engine(quick):
    _, results, _ = quick
    assert [r["value"] for r in results["sweep"]["batch_size"]] == list(QUICK.batch_sizes)
    for axis in results["sweep"].values():
        for row in axis:
            assert {"torch eager", "JAX jit", "scratchnet", "scratchnet fused", "scratchnet fused (1 thread)",
                    "GEMM floor"} <= set(row)
    for row in results["sweep"]["batch_size"]:  # a busy column for every batch size, medians of the repeats
        assert {"torch eager", "JAX jit", "scratchnet fused"} <= set(row["busy"])
        assert all(len(s) == results["repeats"] for s in row["seconds_measured"].values())
    assert set(results["breakdown"]) == {"scratchnet", "torch eager"}


@pytest.mark.parametrize("out,message", [
    ("/proc/bench", "--out /proc/bench/results.json: folder /proc is not writable"),
    ("FILE", "--out {tmp}/taken.txt is a file, not a folder: give a folder for results.json, results.md"),
    ("FIFO", "--out {tmp}/bench/results.md is a FIFO, not a regular file"),
])
def test_a_bad_out_is_refused_before_any_work(out, message, tmp_path):
    taken = tmp_path / "taken.txt"
    taken.write_text("the user's notes")
    before = hashlib.sha256(taken.read_bytes()).hexdigest()
    if out == "FILE":
        out = str(taken)
    elif out == "FIFO":
        (tmp_path / "bench").mkdir()
        os.mkfifo(tmp_path / "bench" / "results.md")
        out = str(tmp_path / "bench")
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", out, "--data-dir",
                           str(tmp_path / "no-data")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert message.format(tmp=tmp_path) in done.stderr
    assert hashlib.sha256(taken.read_bytes()).hexdigest() == before
    assert not (tmp_path / "no-data").exists()  # refused before fetching anything


def test_the_busy_core_stops_with_its_block_even_under_a_parent_ignoring_sigterm():
    """The spinner inherits an ignored SIGTERM (a benchmark started that way): ending the block still ends it."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        start = time.monotonic()
        with BusyCore(60) as busy:
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert busy.process.poll() is not None and time.monotonic() - start < 20
