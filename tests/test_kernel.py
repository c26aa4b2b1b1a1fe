"""scratchnet.fast.kernel: the OpenBLAS kernel measured fastest here, recorded per library and CPU.

The measurement itself is timing, never asserted: here a probe in a fresh interpreter runs the kernel it was
given and reports it (OPENBLAS_CORETYPE=Sandybridge, which every x86-64 CPU with AVX can run), the rounds are
interleaved and their medians kept, a kernel OpenBLAS maps to another is counted once, a probe that dies is
left out, and the record (in a temporary cache folder) gives the advice line `python -m scratchnet.fast`
prints, whichever kernel this machine runs.

    python -m pytest tests/test_kernel.py
"""

import platform

import pytest

from scratchnet.fast import kernel, kernel_choice


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="Sandybridge is an x86-64 kernel")
def test_a_probe_runs_the_kernel_it_was_given(blas):
    ran, ms = kernel.probe("Sandybridge")
    assert ran == "Sandybridge" and ms > 0


def test_rounds_are_interleaved_and_medians_kept(monkeypatch):
    asked, times = [], {"Haswell": iter([3.0, 1.0, 2.0]), "SkylakeX": iter([5.0, 4.0, 6.0])}

    def probe(name):
        asked.append(name)
        if name == "Broken":
            return None  # died of an illegal instruction, say
        ran = "Haswell" if name == "Zen" else name  # OpenBLAS runs the Haswell kernel for Zen
        return (ran, next(times[ran])) if name != "Zen" else (ran, 2.0)

    monkeypatch.setattr(kernel, "probe", probe)
    ms = kernel.measure(("Haswell", "SkylakeX", "Broken"), rounds=3)
    assert asked == ["Haswell", "SkylakeX", "Broken"] * 3
    assert ms == {"Haswell": 2.0, "SkylakeX": 5.0}


@pytest.mark.parametrize("fastest_is_running", [True, False])
def test_the_record_gives_the_advice(blas, fastest_is_running):
    other = "Sandybridge" if blas.lib.kernel != "Sandybridge" else "Haswell"
    ms = {blas.lib.kernel: 1.0, other: 2.0} if fastest_is_running else {blas.lib.kernel: 3.0, other: 2.0}
    assert kernel_choice.advice(blas) is None  # nothing measured yet
    kernel_choice.record(blas, ms)
    assert kernel_choice.recorded(blas)["fastest"] == (blas.lib.kernel if fastest_is_running else other)
    line = kernel_choice.advice(blas)
    if fastest_is_running:
        assert line.startswith(f"kernel: {blas.lib.kernel}, the fastest of")
    else:
        assert f"export OPENBLAS_CORETYPE={other}" in line and "1.50 × faster" in line


def test_a_damaged_cache_is_no_record(blas, cache):
    (cache / "scratchnet").mkdir()
    (cache / "scratchnet" / "openblas-kernel.json").write_text("{not json")
    assert kernel_choice.recorded(blas) is None
    kernel_choice.record(blas, {"Haswell": 1.0})  # and is replaced, not fatal
    assert kernel_choice.recorded(blas)["fastest"] == "Haswell"
