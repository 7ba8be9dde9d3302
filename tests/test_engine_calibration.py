"""auto picks the fastest engine that passes the fidelity check, keeps that choice per machine, and obeys
explicit requests; every installed engine is faithful to Keras with the real weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import simages.extraction.calibration as calibration
from simages.extraction.calibration import (
    Calibration,
    Candidate,
    Measurement,
    calibrated_choice,
    choose,
    measure,
)
from simages.extraction.fidelity import fidelity, top_k_overlap
from simages.extraction.pooling import l2_normalise

NCNN, TORCH32, TORCH16 = Candidate("ncnn", "fp32"), Candidate("torch", "fp32"), Candidate("torch", "bf16")
OV32, OV16 = Candidate("openvino", "fp32"), Candidate("openvino", "bf16")
ALL = [NCNN, TORCH32, TORCH16, OV32, OV16]


def m(candidate: Candidate, ms: float | None, cos: float = 1.0, copy: float = 1.0, error: str | None = None):
    return Measurement(candidate.engine, candidate.precision, ms, cos, copy, error)


@pytest.fixture(autouse=True)
def _auto(monkeypatch):
    """These tests exercise auto: no engine pinned by the environment."""
    monkeypatch.delenv("SIMAGES_ENGINE", raising=False)
    monkeypatch.delenv("SIMAGES_PRECISION", raising=False)


# --- the choice, from measurements ----------------------------------------------------------------


AMX_LIKE = [m(NCNN, 62), m(TORCH32, 110), m(TORCH16, 19, 0.99999), m(OV32, 107), m(OV16, 15, 0.99999)]


def test_auto_picks_the_fastest_faithful_and_says_what_else_was_measured():
    choice = choose(AMX_LIKE)
    assert choice.candidate == OV16
    assert choice.reason.startswith("auto: openvino bf16, 15 ms/img calibrated, fastest faithful of 5")
    assert "ncnn fp32 62 ms" in choice.reason and "torch bf16 19 ms" in choice.reason


def test_a_faster_candidate_that_fails_fidelity_is_passed_over():
    measured = [m(NCNN, 56), m(TORCH16, 40, cos=0.9990), m(OV16, 30, copy=0.9), m(TORCH32, 148)]
    choice = choose(measured)
    assert choice.candidate == NCNN
    assert "torch bf16 40 ms, fails fidelity (min cos 0.99900" in choice.reason
    assert "openvino bf16 30 ms, fails fidelity" in choice.reason


def test_a_candidate_that_failed_to_run_is_never_chosen():
    choice = choose([m(OV16, None, error="RuntimeError: no AMX"), m(NCNN, 60)])
    assert choice.candidate == NCNN and "openvino bf16 failed: RuntimeError: no AMX" in choice.reason
    with pytest.raises(RuntimeError, match="no engine could run"):
        choose([m(OV16, None, error="RuntimeError: broken")])


def test_engine_or_precision_requests_narrow_the_choice():
    assert choose(AMX_LIKE, engine="torch").candidate == TORCH16
    assert choose(AMX_LIKE, engine="torch").reason.startswith("SIMAGES_ENGINE=torch: torch bf16")
    assert choose(AMX_LIKE, precision="fp32").candidate == NCNN
    assert choose(AMX_LIKE, engine="openvino", precision="auto").candidate == OV16


def test_an_explicit_request_wins_over_fidelity_and_says_so():
    measured = [m(NCNN, 56), m(TORCH16, 40, cos=0.9990)]
    choice = choose(measured, precision="bf16")
    assert choice.candidate == TORCH16 and "FAILS the fidelity check" in choice.reason


def test_requests_for_what_is_missing_say_what_to_do():
    zen4 = [NCNN, TORCH32, TORCH16]
    with pytest.raises(RuntimeError, match="pip install openvino"):
        calibration.matching(zen4, "openvino", "auto")
    with pytest.raises(RuntimeError, match="AVX-512 BF16 or AMX"):
        calibration.matching([NCNN, TORCH32], "auto", "bf16")
    with pytest.raises(ValueError, match="SIMAGES_ENGINE"):
        calibration.requested("tensorflow")
    with pytest.raises(ValueError, match="SIMAGES_PRECISION"):
        calibration.requested(None, "half")


# --- measuring, with stand-in engines and a fake clock ----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeEngine:
    """Maps derived from the pixels (so the reference is meaningful), `ms` of fake time per image."""

    def __init__(self, clock: Clock, ms: float, noise: float = 0.0, jitter_copies: bool = False) -> None:
        self.clock, self.ms, self.noise, self.jitter = clock, ms, noise, jitter_copies
        self.calls = 0

    def maps(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.clock.now += self.ms * len(images) / 1000
        base = np.repeat(images[:, ::32, ::32, :].astype(np.float32), 171, axis=-1)[..., :512] + 1.0
        rng = np.random.default_rng(self.calls)
        out = base * (1 + self.noise * rng.standard_normal(base.shape)) if self.noise else base
        if self.jitter:
            out = out.copy()
            out[-1] += rng.uniform(0, 50, out[-1].shape)  # the copy gets other maps: not deterministic
        return out.astype(np.float32)


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    distinct = rng.integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    return np.concatenate([distinct, distinct[:1]])


def test_measure_times_checks_and_prunes(images):
    clock = Clock()
    engines = {
        TORCH32: FakeEngine(clock, 110),
        NCNN: FakeEngine(clock, 60),
        TORCH16: FakeEngine(clock, 20, noise=0.0002),
        OV16: FakeEngine(clock, 15, noise=1.0),  # fast but far from fp32
    }
    builders = {candidate: (lambda e=engine: e) for candidate, engine in engines.items()}
    measured, built = measure(builders, images, rounds=2, clock=clock)
    by = {x.candidate: x for x in measured}
    assert by[NCNN].ms_per_image == pytest.approx(60) and by[TORCH16].ms_per_image == pytest.approx(20)
    assert by[TORCH32].min_cosine == pytest.approx(1.0) and by[TORCH16].faithful
    assert not by[OV16].faithful and by[OV16].min_cosine < 0.9995
    # warm-up + one round for candidates far slower than the fastest faithful (20 ms): no second round
    assert engines[TORCH32].calls == 2 and engines[NCNN].calls == 2 and engines[TORCH16].calls == 3
    assert set(built) == set(engines)
    assert choose(measured).candidate == TORCH16


def test_an_engine_that_gives_a_copy_other_maps_is_not_faithful(images):
    clock = Clock()
    builders = {
        TORCH32: lambda: FakeEngine(clock, 100),
        TORCH16: lambda: FakeEngine(clock, 20, jitter_copies=True),
    }
    measured, _ = measure(builders, images, clock=clock)
    flaky = next(x for x in measured if x.candidate == TORCH16)
    assert flaky.copy_cosine < calibration.COPY_COSINE and not flaky.faithful


def test_an_engine_that_cannot_be_built_is_recorded_not_raised(images):
    clock = Clock()

    def broken():
        raise RuntimeError("OpenVINO has no native bf16 on this CPU")

    measured, built = measure({TORCH32: lambda: FakeEngine(clock, 100), OV16: broken}, images, clock=clock)
    failed = next(x for x in measured if x.candidate == OV16)
    assert "no native bf16" in failed.error and OV16 not in built


# --- the kept calibration ---------------------------------------------------------------------------


@pytest.fixture
def fake_machine(monkeypatch):
    """Three candidates, stand-in engines, tiny calibration images; counts calibrations and builds."""
    clock = Clock()
    speeds = {NCNN: 60, TORCH32: 110, TORCH16: 20}
    calls = {"calibrations": 0, "builds": []}
    monkeypatch.setattr(calibration, "available_candidates", lambda engine="auto": [
        c for c in speeds if engine in ("auto", c.engine)
    ])
    real_measure, real_calibrate = calibration.measure, calibration.calibrate
    monkeypatch.setattr(
        calibration, "measure", lambda found, images, rounds=2: real_measure(found, images, rounds, clock)
    )

    def counting(builders, key, images=None):
        calls["calibrations"] += 1
        rng = np.random.default_rng(1)
        distinct = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
        return real_calibrate(builders, key, np.concatenate([distinct, distinct[:1]]))

    monkeypatch.setattr(calibration, "calibrate", counting)

    def build(candidate):
        calls["builds"].append(candidate)
        return FakeEngine(clock, speeds[candidate], noise=0.0002 if candidate.precision == "bf16" else 0)

    return build, calls


def test_calibration_is_kept_and_reused_for_the_same_machine(tmp_path, fake_machine):
    build, calls = fake_machine
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert choice.candidate == TORCH16 and calls["calibrations"] == 1
    kept = json.loads(calibration.cache_file(tmp_path).read_text())["calibrations"]
    assert len(kept) == 1 and kept[0]["key"]["weights"] == "weights-a"
    calls["builds"].clear()
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert calls["calibrations"] == 1 and calls["builds"] == [TORCH16]  # only the chosen one is built
    assert choice.candidate == TORCH16 and isinstance(choice.calibration, Calibration)


@pytest.mark.parametrize("change", ["weights", "engine version", "cpu"])
def test_a_changed_machine_key_calibrates_again(tmp_path, fake_machine, monkeypatch, change):
    build, calls = fake_machine
    calibrated_choice("weights-a", tmp_path, build)
    weights = "weights-a"
    if change == "weights":
        weights = "weights-b"
    elif change == "engine version":
        versions = calibration.engine_versions()
        monkeypatch.setattr(calibration, "engine_versions", lambda: {**versions, "openvino": "2099.1"})
    else:
        cpu = calibration.cpu_identity()
        monkeypatch.setattr(calibration, "cpu_identity", lambda: {**cpu, "flags": [*cpu["flags"], "amx_fp8"]})
    calibrated_choice(weights, tmp_path, build)
    assert calls["calibrations"] == 2
    # the other machine's calibration is kept beside it (a features/ folder may be shared)
    assert len(json.loads(calibration.cache_file(tmp_path).read_text())["calibrations"]) == 2


def test_a_broken_calibration_file_is_ignored_and_replaced(tmp_path, fake_machine):
    build, calls = fake_machine
    calibration.cache_file(tmp_path).write_text("{not json")
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert choice.candidate == TORCH16 and calls["calibrations"] == 1
    assert calibration.load_calibration(tmp_path, calibration.machine_key("weights-a")) is not None


def test_fresh_calibrates_even_when_one_is_kept(tmp_path, fake_machine):
    build, calls = fake_machine
    calibrated_choice("weights-a", tmp_path, build)
    calibrated_choice("weights-a", tmp_path, build, fresh=True)
    assert calls["calibrations"] == 2


def test_forcing_engine_and_precision_measures_nothing(tmp_path, fake_machine, monkeypatch):
    build, calls = fake_machine
    monkeypatch.setenv("SIMAGES_ENGINE", "torch")
    monkeypatch.setenv("SIMAGES_PRECISION", "fp32")
    _, choice = calibrated_choice("weights-a", tmp_path, build)
    assert choice.candidate == TORCH32
    assert choice.reason == "forced by SIMAGES_ENGINE=torch SIMAGES_PRECISION=fp32"
    assert calls["calibrations"] == 0 and calls["builds"] == [TORCH32]
    assert not calibration.cache_file(tmp_path).exists()
    # the argument (CLI option) beats the environment
    _, choice = calibrated_choice("weights-a", tmp_path, build, engine="ncnn", precision="fp32")
    assert choice.candidate == NCNN
    with pytest.raises(RuntimeError, match="pip install openvino"):
        calibrated_choice("weights-a", tmp_path, build, engine="openvino", precision="bf16")


def test_a_single_allowed_candidate_runs_without_calibration(tmp_path, fake_machine):
    build, calls = fake_machine
    _, choice = calibrated_choice("weights-a", tmp_path, build, engine="ncnn")
    assert choice.candidate == NCNN and "the only candidate" in choice.reason
    assert calls["calibrations"] == 0


def test_a_narrowed_request_uses_the_kept_calibration(tmp_path, fake_machine):
    build, calls = fake_machine
    calibrated_choice("weights-a", tmp_path, build)
    _, choice = calibrated_choice("weights-a", tmp_path, build, precision="fp32")
    assert choice.candidate == NCNN and calls["calibrations"] == 1
    assert choice.reason.startswith("SIMAGES_PRECISION=fp32: ncnn fp32")


# --- the fidelity criterion -------------------------------------------------------------------------


def test_fidelity_passes_identical_maps_and_fails_perturbed_ones():
    rng = np.random.default_rng(0)
    labels = [f"c{i % 5}" for i in range(60)]
    centres = rng.gamma(1.0, 1.0, (5, 7, 7, 512)).astype(np.float32)
    maps = np.stack([centres[i % 5] + rng.gamma(1.0, 0.5, (7, 7, 512)) for i in range(60)]).astype(np.float32)
    from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR

    same = fidelity(maps, maps.copy(), labels, DEFAULT_DESCRIPTOR)
    assert same.passes and same.top10_overlap == 1.0 and same.min_cosine == pytest.approx(1.0, abs=1e-6)
    noisy = maps * (1 + 0.5 * rng.standard_normal(maps.shape).astype(np.float32))
    report = fidelity(maps, np.maximum(noisy, 0), labels, DEFAULT_DESCRIPTOR)
    assert not report.passes and report.min_cosine < 0.9995 and "FAILS" in report.row()
    with pytest.raises(ValueError, match="do not match"):
        fidelity(maps, maps[:10], labels, DEFAULT_DESCRIPTOR)


def test_top_k_overlap_counts_shared_neighbours():
    points = l2_normalise(np.random.default_rng(3).standard_normal((30, 8)).astype(np.float32))
    assert top_k_overlap(points, points) == 1.0
    shuffled = np.random.default_rng(4).standard_normal((30, 8)).astype(np.float32)
    assert top_k_overlap(points, shuffled) < 0.6


# --- real weights: every installed engine ------------------------------------------------------------


@pytest.fixture(scope="module")
def real_model(weights_path: Path):
    """Keras' VGG-16 with the real weights and its kernels, built once for this module's tests."""
    from simages.extraction.keras_vgg import keras_vgg16
    from simages.extraction.torch_vgg import conv_weights_from_keras

    model = keras_vgg16(weights_path)
    return model, conv_weights_from_keras(model)


def test_every_installed_engine_is_faithful_with_real_weights(real_model, corel_path: Path):
    """Each engine/precision native here against Keras' fp32 predict on Corel photos: the per-image
    criterion, and an exact copy still scores as a duplicate (>= 0.999) on every engine."""
    from simages.extraction.calibration import available_candidates
    from simages.extraction.descriptor_spec import DescriptorSpec
    from simages.extraction.images import load_for_network
    from simages.extraction.network import PlainKerasNetwork, build_engine
    from simages.extraction.pooling import pool

    model, convs = real_model
    files = sorted(corel_path.glob("*/*.jpg"))[::250][:4]
    distinct = np.stack([load_for_network(path) for path in files])
    images = np.concatenate([distinct, distinct[:1]])
    gap = DescriptorSpec(pooling="gap", l2=True)
    reference = pool(PlainKerasNetwork(None, model=model).maps(distinct), gap)
    # int8 is held to the retrieval criterion, not to the per-image cosine: tests/test_int8_real.py.
    candidates = [c for c in available_candidates() if c.precision != "int8"]
    assert NCNN in candidates or TORCH32 in candidates
    for candidate in candidates:
        vectors = pool(build_engine(convs, candidate.engine, candidate.precision).maps(images), gap)
        cosine = (vectors[:-1] * reference).sum(axis=1)
        floor = 0.99999 if candidate.precision == "fp32" else calibration.MIN_COSINE
        assert cosine.min() >= floor, f"{candidate.label}: min cos {cosine.min():.6f}"
        assert float(vectors[0] @ vectors[-1]) >= 0.999, f"{candidate.label}: an exact copy is no duplicate"


def test_auto_calibrates_once_with_real_weights_and_says_why(real_model, tmp_path, monkeypatch):
    import simages.extraction.quantisation as quantisation
    from simages.extraction.network import fast_network

    # Where int8 is a candidate it is quantised during the calibration: on 12 images instead of the
    # recipe's 48, to keep the test to seconds (tests/test_int8_real.py tests the int8 model itself).
    monkeypatch.setattr(quantisation, "CALIBRATION_IMAGES", 12)
    _, convs = real_model
    network = fast_network(convs, cache_folder=tmp_path, weights_id="real")
    assert "auto: " in network.description and "ms/img calibrated" in network.description
    measured = network.choice.calibration.measurements
    assert {m.candidate for m in measured} == set(calibration.available_candidates())
    chosen = next(m for m in measured if m.candidate == network.choice.candidate)
    assert chosen.faithful and all(
        m.ms_per_image >= chosen.ms_per_image for m in measured if m.faithful and m.ms_per_image is not None
    )
    assert calibration.cache_file(tmp_path).is_file()
    again = fast_network(convs, cache_folder=tmp_path, weights_id="real")
    assert again.choice.candidate == network.choice.candidate
    assert again.choice.calibration.when == network.choice.calibration.when  # kept, not measured again
    assert again.maps(np.zeros((1, 224, 224, 3), np.uint8)).shape == (1, 7, 7, 512)
