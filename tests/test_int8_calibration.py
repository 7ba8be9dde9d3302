"""int8 is offered only where the CPU has int8 dot products, chosen only when faithful and faster, and a
calibration made on another CPU is never reused; stand-in engines and timings, no real network."""

from __future__ import annotations

import json

import numpy as np
import pytest

import simages.extraction.calibration as calibration
import simages.extraction.quantisation as quantisation
from simages.extraction.calibration import Candidate, Measurement, calibrated_choice, choose
from simages.extraction.hardware_limit import hardware_limit, macs_per_cycle, vgg16_macs

NCNN, TORCH32, TORCH16 = Candidate("ncnn", "fp32"), Candidate("torch", "fp32"), Candidate("torch", "bf16")
OV32, OV16, OV8 = Candidate("openvino", "fp32"), Candidate("openvino", "bf16"), Candidate("openvino", "int8")


def m(candidate: Candidate, ms: float, cos: float = 1.0, copy: float = 1.0) -> Measurement:
    return Measurement(candidate.engine, candidate.precision, ms, cos, copy)


@pytest.fixture(autouse=True)
def _auto(monkeypatch):
    monkeypatch.delenv("SIMAGES_ENGINE", raising=False)
    monkeypatch.delenv("SIMAGES_PRECISION", raising=False)


def test_int8_is_chosen_when_faithful_and_fastest():
    choice = choose([m(NCNN, 62), m(OV32, 107), m(OV16, 15, 0.99999), m(OV8, 9, 0.99980)])
    assert choice.candidate == OV8
    assert choice.reason.startswith("auto: openvino int8, 9 ms/img calibrated, fastest faithful of 4")


def test_int8_that_fails_the_check_is_passed_over_however_fast():
    choice = choose([m(NCNN, 62), m(OV16, 15, 0.99999), m(OV8, 6, cos=0.99400)])
    assert choice.candidate == OV16
    assert "openvino int8 6 ms, fails fidelity (min cos 0.99400" in choice.reason
    # An exact copy that scores differently fails it too, whatever the cosine with fp32.
    assert choose([m(OV16, 15, 0.99999), m(OV8, 6, 0.99990, copy=0.9999)]).candidate == OV16


def test_int8_slower_than_bf16_is_not_chosen():
    """On a CPU whose int8 path is slower (VNNI without AMX, beside AMX bf16), bf16 stays."""
    assert choose([m(OV16, 15, 0.99999), m(OV8, 21, 0.99990)]).candidate == OV16


def test_int8_can_be_asked_for_and_says_when_it_cannot_run():
    assert choose([m(OV16, 15, 0.99999), m(OV8, 21, 0.99990)], precision="int8").candidate == OV8
    with pytest.raises(RuntimeError, match=r"int8.*NNCF.*VNNI"):
        calibration.matching([NCNN, TORCH32, OV32], "auto", "int8")


@pytest.mark.parametrize(
    ("flags", "offered", "instructions"),
    [
        (["avx512f", "avx512_vnni", "amx_bf16", "amx_int8"], True, "AMX-INT8"),
        (["avx512f", "avx512_vnni", "avx512_bf16"], True, "AVX-512 VNNI"),  # Zen 4
        (["avx2", "fma", "avx_vnni"], True, "AVX-VNNI"),
        (["avx2", "fma"], False, None),  # int8 would be emulated: never offered
    ],
)
def test_int8_is_offered_only_with_int8_dot_products(monkeypatch, flags, offered, instructions):
    cpu = calibration.cpu_identity()
    monkeypatch.setattr(calibration, "cpu_identity", lambda: {**cpu, "flags": flags})
    monkeypatch.setattr(quantisation, "nncf_version", lambda: "3.4.0")
    monkeypatch.setattr("simages.extraction.openvino_vgg.openvino_available", lambda: True)
    monkeypatch.setattr("simages.extraction.openvino_vgg.openvino_bf16", lambda: False)
    monkeypatch.setattr("simages.extraction.ncnn_vgg.ncnn_available", lambda: True)
    monkeypatch.setattr(calibration, "_torch_bf16", lambda: False)
    assert quantisation.int8_instructions(flags) == instructions
    assert (OV8 in calibration.available_candidates()) is offered
    assert OV8 not in calibration.available_candidates("ncnn")


def test_without_nncf_int8_is_not_offered(monkeypatch):
    monkeypatch.setattr(quantisation, "nncf_version", lambda: None)
    assert not quantisation.int8_available(["avx512_vnni", "amx_int8"])


# --- a calibration kept by another CPU --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class StandIn:
    """Maps derived from the pixels, `ms` of fake time per image; `noise` stands for reduced precision."""

    def __init__(self, clock: Clock, ms: float, noise: float) -> None:
        self.clock, self.ms, self.noise, self.description = clock, ms, noise, "stand-in"

    def maps(self, images: np.ndarray) -> np.ndarray:
        self.clock.now += self.ms * len(images) / 1000
        base = np.repeat(images[:, ::32, ::32, :].astype(np.float32), 171, axis=-1)[..., :512] + 1.0
        # Deterministic per image: the same pixels give the same maps (a copy stays a copy).
        seeds = [int(image.sum()) for image in images]
        noise = np.stack([np.random.default_rng(s).standard_normal(base.shape[1:]) for s in seeds])
        return (base * (1 + self.noise * noise)).astype(np.float32)


@pytest.fixture
def machines(monkeypatch):
    """Two CPUs: an AMX Xeon where int8 is fast and faithful, and a VNNI-only CPU where int8 is slower
    than ncnn fp32. Speeds per CPU are stand-in timings; calibrations are counted."""
    clock = Clock()
    speeds = {
        "amx": {NCNN: 60, OV16: 16, OV8: 9},
        "vnni": {NCNN: 56, OV16: 150, OV8: 70},
    }
    state = {"cpu": "amx", "calibrations": 0}
    base = calibration.cpu_identity()
    flags = {"amx": ["avx512f", "avx512_vnni", "amx_bf16", "amx_int8"], "vnni": ["avx512f", "avx512_vnni"]}
    monkeypatch.setattr(calibration, "cpu_identity", lambda: {**base, "flags": flags[state["cpu"]]})
    monkeypatch.setattr(
        calibration,
        "available_candidates",
        lambda engine="auto": [c for c in speeds[state["cpu"]] if engine in ("auto", c.engine)],
    )
    real_measure, real_calibrate = calibration.measure, calibration.calibrate
    monkeypatch.setattr(
        calibration, "measure", lambda found, images, rounds=2: real_measure(found, images, rounds, clock)
    )

    def counting(builders, key, images=None):
        state["calibrations"] += 1
        distinct = np.random.default_rng(1).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
        return real_calibrate(builders, key, np.concatenate([distinct, distinct[:1]]))

    monkeypatch.setattr(calibration, "calibrate", counting)

    def build(candidate):
        noise = {"fp32": 0.0, "bf16": 0.0002, "int8": 0.0005}[candidate.precision]
        return StandIn(clock, speeds[state["cpu"]][candidate], noise)

    return build, state


def test_a_calibration_from_another_cpu_is_never_reused(tmp_path, machines):
    build, state = machines
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert choice.candidate == OV8 and state["calibrations"] == 1
    # The same features/ folder, now read by a CPU with VNNI but no AMX: calibrated again, int8 not taken.
    state["cpu"] = "vnni"
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert state["calibrations"] == 2 and choice.candidate == NCNN
    kept = json.loads(calibration.cache_file(tmp_path).read_text())["calibrations"]
    assert [entry["key"]["cpu"]["flags"] for entry in kept] == [
        ["avx512f", "avx512_vnni", "amx_bf16", "amx_int8"],
        ["avx512f", "avx512_vnni"],
    ]
    # Back on the first CPU: its own calibration is found again, nothing measured.
    state["cpu"] = "amx"
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert state["calibrations"] == 2 and choice.candidate == OV8


def test_without_a_folder_to_keep_it_int8_is_never_quantised(machines):
    """A cluster worker calibrates without a features/ folder: quantising int8 there would be redone in
    every worker process, so it is not a candidate unless asked for."""
    build, _ = machines
    built = []

    def counting_build(candidate):
        built.append(candidate)
        return build(candidate)

    _, choice = calibrated_choice("weights-a", None, counting_build)
    assert choice.candidate == OV16 and OV8 not in built
    assert {m.candidate for m in choice.calibration.measurements} == {NCNN, OV16}
    _, choice = calibrated_choice("weights-a", None, counting_build, precision="int8")
    assert choice.candidate == OV8


def test_the_cache_key_names_nncf_and_the_int8_flags():
    key = calibration.machine_key("weights-a")
    assert "nncf" in key["engines"]
    assert {"amx_int8", "avx_vnni", "avx512_vnni"} <= set(calibration._RELEVANT_FLAGS)


# --- how close to the limit ---------------------------------------------------------------------------


def test_peak_follows_the_flags_and_the_vendor():
    assert vgg16_macs() == pytest.approx(15.35e9, rel=1e-3)
    amx = ["avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"]
    assert macs_per_cycle("int8", amx) == (1024, "AMX-INT8")
    assert macs_per_cycle("bf16", amx) == (512, "AMX-BF16")
    zen4 = ["avx512f", "avx512_vnni", "avx512_bf16"]
    assert macs_per_cycle("int8", zen4, vendor_amd=True) == (64, "AVX-512 VNNI")
    assert macs_per_cycle("bf16", zen4, vendor_amd=True) == (32, "AVX-512 BF16")
    assert macs_per_cycle("fp32", ["avx2", "fma"]) == (16, "AVX2 FMA")
    assert macs_per_cycle("int8", ["avx2", "fma"]) == (16, "AVX2 FMA")  # emulated int8: no better than fp32


def test_the_limit_line_says_achieved_and_peak(monkeypatch):
    monkeypatch.setattr("simages.extraction.hardware_limit.cpu_mhz", lambda: 2000.0)
    monkeypatch.setattr("simages.extraction.hardware_limit.cpu_flags", lambda: {"avx512f", "amx_bf16"})
    limit = hardware_limit("bf16", 15.35, {"model": "Intel Xeon", "cores": 2})
    assert limit.achieved == pytest.approx(1e12, rel=1e-3) and limit.peak == pytest.approx(2.048e12)
    assert "achieved 1000 G MAC/s = 49% of the bf16 peak, 2048 G MAC/s" in limit.line()
    monkeypatch.setattr("simages.extraction.hardware_limit.cpu_mhz", lambda: None)
    assert "no peak" in hardware_limit("bf16", 15.35, {"model": "x", "cores": 2}).line()


# --- the fidelity benchmark's copies check ---------------------------------------------------------


def test_changed_duplicate_pairs_fail_unless_they_are_ties_at_the_threshold(monkeypatch):
    import simages.bench.extract_fidelity as bench

    reference = {("a", "b"): 0.91, ("c", "d"): 0.503, ("e", "f"): 0.62, ("g", "h"): 0.45}
    engine = {("a", "b"): 0.91, ("c", "d"): 0.498, ("e", "f"): 0.48, ("i", "j"): 0.55}
    monkeypatch.setattr(bench, "duplicates_index", lambda maps, names, spec: None)
    monkeypatch.setattr(bench, "duplicate_scores", lambda index, threshold: engine)
    maps = np.arange(4 * 7 * 7 * 512, dtype=np.float32).reshape(4, 7, 7, 512)
    maps[3] = maps[0]
    report = bench.copy_report(maps, reference, ["x"] * 4, [(0, 3)], None, threshold=0.5)
    assert report.exact_identical and report.pairs_reference == 3
    # c~d moved from 0.503 to 0.498: a tie, listed; e~f lost and i~j new are real changes.
    assert report.changed_ties == ["c ~ d: 0.5030 -> 0.4980"]
    assert (report.pairs_lost, report.pairs_new) == (1, 1) and not report.passes
    assert "2 of 3 same, 1 lost, 1 new, 1 ties changed" in report.cells()
    maps[3, 0, 0, 0] += 1e-3  # a byte-identical copy with other maps fails whatever the pairs
    engine.pop(("i", "j"))
    engine[("e", "f")] = 0.62
    report = bench.copy_report(maps, reference, ["x"] * 4, [(0, 3)], None, threshold=0.5)
    assert (report.pairs_lost, report.pairs_new) == (0, 0) and not report.passes
    assert report.cells().startswith("DIFFER")


def test_the_fidelity_benchmark_finds_duplicate_pairs_as_the_app_does():
    """duplicates_index/duplicate_scores go through the app's own duplicates code: identical maps under
    two names are a pair scoring about 1, distinct random maps are none."""
    import simages.bench.extract_fidelity as bench
    from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR

    rng = np.random.default_rng(5)
    maps = rng.gamma(1.0, 1.0, (40, 7, 7, 512)).astype(np.float32)
    maps[39] = maps[0]
    names = [f"img{i:02d}" for i in range(40)]
    index = bench.duplicates_index(maps, names, DEFAULT_DESCRIPTOR)
    threshold = bench.duplicate_threshold("cosine", index)
    scores = bench.duplicate_scores(index, threshold)
    found = {pair for pair, score in scores.items() if score >= threshold}
    assert found == {("fidelity/img00", "fidelity/img39")}
    assert scores[("fidelity/img00", "fidelity/img39")] == pytest.approx(1.0, abs=1e-4)
