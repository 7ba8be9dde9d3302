"""`simages bench extract` runs both paths on the same images and reports speed and agreement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simages.cli import main


def test_bench_extract_compares_plain_and_fast_paths(weights_path: Path, corel_path: Path, tmp_path, capsys):
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "extract"]
    assert main([*args, "--data", str(corel_path), "--images", "12", "--large", "1", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    small = next(line for line in out.splitlines() if line.startswith("| small 384x256 | 12 |"))
    cells = [cell.strip() for cell in small.strip("|").split("|")]
    assert float(cells[6].rstrip("x")) > 1.5, "the fast path is faster than plain Keras"
    assert float(cells[7]) >= 0.999 and float(cells[8]) >= 0.999
    assert cells[9] == "100.0% of 12 queries"
    assert "| large 12 MP | 1 |" in out and "large/small fast ms per image" in out
    assert "fast path: ncnn" in out and "\nagreement: met" in out
    # The speed floors are reported whatever they come to on this CPU; they never decide the exit status.
    # Measured over alternating rounds, so a burst of other load weighs on both sizes alike.
    assert re.search(r"large/small fast ms per image: [0-9.]+ \(median of 2 rounds: [0-9.]+, [0-9.]+; ", out)
    # What the pipeline around the network costs it, measured beside it in the same rounds.
    assert re.search(r"decoded beforehand, batches of \d+: [0-9.]+ ms/img \(median of 2 rounds.*"
                     r"pipeline's network stage / network alone: [0-9.]+ ", out)
    assert out.startswith("CPU: ") and "load average at start" in out
    stages = next(line for line in out.splitlines() if "small 384x256: fast:" in line)
    assert all(f"{stage} " in stages for stage in ("decode", "network", "pooling", "store"))
    assert "decoding alone: " in out and "speed-up end to end" in out


def test_bench_extract_engines_times_the_network_alone(
    weights_path: Path, corel_path: Path, tmp_path, capsys, monkeypatch
):
    import simages.extraction.quantisation as quantisation

    monkeypatch.setattr(quantisation, "CALIBRATION_IMAGES", 8)  # where int8 runs: seconds, not a minute
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "extract"]
    assert main([*args, "--data", str(corel_path), "--images", "2", "--engines"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "ms/img" not in line]
    engines = [row.split("|")[1].strip() for row in rows]
    assert engines[0].startswith("keras predict") and any(e.startswith("ncnn") for e in engines)
    assert any(e.startswith("torch fp32") for e in engines)
    # Each engine's multiply-adds per second beside the CPU's peak for its precision.
    assert all(re.search(r"\| \d+ \| (\d+% of \d+ \(.+\)|peak unknown) \|$", row) for row in rows), out
    assert "G MAC per image" in out


@pytest.mark.slow
def test_bench_fidelity_bf16_passes_and_the_calibration_agrees_with_the_criterion(
    weights_path: Path, corel_path: Path, tmp_path, capsys
):
    """The fidelity criterion on 200 Corel images (the full 1000: `simages bench extract --fidelity`): every
    bf16 engine passes, and for every engine the calibration's own check decides as the criterion does."""
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "extract"]
    code = main([*args, "--data", str(corel_path), "--images", "200", "--fidelity"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "criterion" not in line]
    cells = [[cell.strip() for cell in row.strip(" |").split("|")] for row in rows]
    assert all(row[7] == "passes" for row in cells if " bf16" in row[0]), out
    assert all(row[-1] == "yes" for row in cells), out
    assert all(row[5] == "identical" for row in cells), out
    assert code == 0


def test_bench_fidelity_refuses_a_sample_without_two_photos_per_class(
    weights_path: Path, corel_path: Path, tmp_path
):
    """Leave-one-out mAP is undefined with one photo of a class: a clear message, not a table of NaN."""
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "extract"]
    with pytest.raises(SystemExit, match="at least 2 images of every class"):
        main([*args, "--data", str(corel_path), "--images", "10", "--fidelity"])


def test_the_speedup_floor_is_the_issues_for_the_cpu_at_hand():
    from simages.bench.extract_bench import speedup_floor_words

    amx = ["avx512f", "avx512_vnni", "amx_bf16", "amx_int8"]
    assert speedup_floor_words(amx, 26.0) == "floor 25x for small photos on a CPU with AMX: reached"
    assert speedup_floor_words(amx, 15.2).endswith("NOT reached")
    assert speedup_floor_words(["avx512f", "avx512_vnni"], 7.5) == (
        "floor 7x for small photos on a CPU with AVX-512 VNNI and no AMX: reached"
    )
    assert speedup_floor_words(["avx2", "fma"], 3.0).startswith("no numeric floor")
