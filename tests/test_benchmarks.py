"""Smoke test of the side-by-side benchmark: `--quick` must produce the table, the JSON and the plot.

No timing is asserted (figures belong in the benchmark's output, not in tests); what is checked is that
every contender ran, the ratios are consistent with the seconds, the peak memory is in the range the
model's arrays put it in, and the accuracies agree.

    python -m pytest tests/test_benchmarks.py
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("threadpoolctl")
pytest.importorskip("matplotlib")


@pytest.mark.slow
def test_quick_benchmark_writes_table_json_and_plot(mnist_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--repeats", "1",
                           "--out", str(tmp_path), "--data-dir", mnist_dir],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    for name in ("tutorial", "torch eager", "scratchnet", "scratchnet fused", "GEMM floor"):
        assert f"| {name} |" in done.stdout
    assert "numpy BLAS: " in done.stdout and "kernel" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    main = results["main"]
    floor = main["GEMM floor"]["seconds_per_epoch"]
    for row in main.values():
        assert row["ratio_to_gemm_floor"] == pytest.approx(row["seconds_per_epoch"] / floor)
    # Peak memory: each contender holds the model's arrays (W, b in float32: 2.55 MiB; the GEMM floor its
    # operands), and none a second copy of the training set (179 MiB in float32): a broken sampler would read 0.
    for name, row in main.items():
        assert 2 <= row["peak_memory_mib"] < 179, (name, row["peak_memory_mib"])
    for name in ("scratchnet", "scratchnet fused"):
        assert main[name]["peak_memory_mib"] >= 2.55, (name, "holds W, b and their gradients")
    # Same initial weights, same batches, same number of steps: the accuracies must agree.
    accuracies = [main[n]["test_accuracy"] for n in ("tutorial", "torch eager", "scratchnet", "scratchnet fused")]
    assert max(accuracies) - min(accuracies) <= 0.002, accuracies
    assert set(results["breakdown"]) == {"scratchnet", "torch eager"}
    assert [r["value"] for r in results["sweep"]["batch_size"]] == [16, 256]
    assert results["left_out"] == {}
    assert all("scratchnet fused" in row for axis in results["sweep"].values() for row in axis)
    assert results["machine"]["blas"], "threadpoolctl must name the BLAS that ran"
    assert (tmp_path / "benchmark.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "results.md").read_text().startswith("### Tutorial model")


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
