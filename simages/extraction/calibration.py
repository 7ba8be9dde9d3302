"""Which engine and precision compute VGG-16 on this machine: the fastest that passes the fidelity check.

CPUs differ more than any rule of thumb: on an Intel Xeon with AMX, OpenVINO or torch in bf16 run the
network several times faster than ncnn's fp32 Winograd; on an AMD Zen 4 (AVX-512 BF16, no AMX) ncnn fp32
is the fastest. So the choice is measured, not guessed: on first use every installed candidate
(ncnn fp32, torch fp32/bf16, OpenVINO fp32/bf16, and OpenVINO int8 on CPUs with VNNI or AMX-INT8 when
NNCF is installed: quantisation.py, which quantises the network on first use) runs the real kernels on a
few photos, interleaved so a burst of other work on the machine hits all of them alike, and each is
checked against fp32:

* fidelity: every image's descriptor (GAP + L2, what the default descriptor stores) has cosine
  >= MIN_COSINE with the fp32 reference (torch fp32: the same fp32 convolutions Keras' `predict`
  runs on its torch backend), and a byte-identical copy of an image gets the same descriptor
  (cosine >= COPY_COSINE), which the duplicate finder relies on;
* speed: milliseconds per image, the best of the rounds.

The result is kept in features/.cache/ under a key made of the CPU (model, core count, the flags that
matter, int8 ones included), the engines' and NNCF's versions, the weights' sha256 and this module's
version, and redone when any of them changes: a calibration made on another CPU is never reused.
`SIMAGES_ENGINE` / `SIMAGES_PRECISION` (or the CLI's --engine / --precision) narrow the
choice; both together force a path without any calibration. Every choice comes with a sentence that
says which path runs and why.

The calibration is a sanity gate on a few images; the full criterion on Corel-1k (every image's cosine,
top-10 overlap, mAP and P@10 against Keras' fp32 predict) is `simages bench extract --fidelity`, and
docs/speed.md has its results per CPU.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from simages.extraction.cpuinfo import first_processor
from simages.extraction.fidelity import MIN_COSINE
from simages.extraction.pooling import l2_normalise
from simages.settings import ENV_ENGINE, ENV_PRECISION, environment_setting
from simages.store.atomic import write_atomically
from simages.store.lock import set_lock

log = logging.getLogger(__name__)

# 2: int8 candidates (OpenVINO + NNCF) on CPUs with VNNI / AMX-INT8; NNCF's version and int8 flags in the key.
CALIBRATION_VERSION = 2
# Exact copies must keep scoring as duplicates (>= 0.999) whatever the engine; one engine on the same
# bytes should give the same maps, so anything below this means non-deterministic kernels.
COPY_COSINE = 0.99999
# Candidates slower than this many times the fastest faithful one after the first round are not
# timed again: the choice cannot fall on them, and the calibration stays short.
CONTENDER_RATIO = 1.5
ROUNDS = 2
ENGINES = ("ncnn", "torch", "openvino")
PRECISIONS = ("fp32", "bf16", "int8")
# CPU features that change which engine is fastest; a machine that gains or loses one recalibrates.
_RELEVANT_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


@dataclass(frozen=True, order=True)
class Candidate:
    engine: str
    precision: str

    @property
    def label(self) -> str:
        return f"{self.engine} {self.precision}"


@dataclass
class Measurement:
    """One candidate's calibration: speed and fidelity against the fp32 reference, or why it failed."""

    engine: str
    precision: str
    ms_per_image: float | None = None
    min_cosine: float | None = None  # GAP+L2 descriptor, worst image, against the fp32 reference
    copy_cosine: float | None = None  # an image against its byte-identical copy, same engine
    error: str | None = None
    build_seconds: float | None = None  # making the network (int8: quantising it on first use)

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.engine, self.precision)

    @property
    def faithful(self) -> bool:
        return (
            self.error is None
            and self.min_cosine is not None
            and self.min_cosine >= MIN_COSINE
            and self.copy_cosine is not None
            and self.copy_cosine >= COPY_COSINE
        )

    def fidelity_words(self) -> str:
        """'min cos 0.99998, copy 1.000000' (or '-' where not measured)."""
        cos = f"{self.min_cosine:.5f}" if self.min_cosine is not None else "-"
        copy = f"{self.copy_cosine:.6f}" if self.copy_cosine is not None else "-"
        return f"min cos {cos}, copy {copy}"

    def summary(self) -> str:
        """'ncnn fp32 62 ms', 'torch bf16 fails fidelity (min cos 0.99910)', 'openvino bf16 failed: ...'."""
        if self.error is not None:
            return f"{self.candidate.label} failed: {self.error}"
        timing = f"{self.ms_per_image:.0f} ms" if self.ms_per_image is not None else "not timed"
        if not self.faithful:
            return f"{self.candidate.label} {timing}, fails fidelity ({self.fidelity_words()})"
        return f"{self.candidate.label} {timing}"


@dataclass
class Calibration:
    key: dict
    measurements: list[Measurement]
    seconds: float = 0.0  # how long the calibration took
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "measurements": [asdict(m) for m in self.measurements],
            "seconds": self.seconds,
            "when": self.when,
        }

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        return cls(
            data["key"],
            [Measurement(**m) for m in data["measurements"]],
            float(data["seconds"]),
            data["when"],
        )


@dataclass(frozen=True)
class Choice:
    """The path to run and the sentence that says why (printed by `simages index` and the benchmark)."""

    candidate: Candidate
    reason: str
    calibration: Calibration | None = None  # what the choice was made from (None: forced)


# --- what this machine is -------------------------------------------------------------------------


def cpu_identity() -> dict:
    """The CPU as /proc/cpuinfo names it: model name, family/model/stepping, usable cores, relevant flags."""
    fields = first_processor()
    flags = set(fields.get("flags", "").split())
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {
        "model": fields.get("model name", "unknown CPU"),
        "family": f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}/{fields.get('stepping', '?')}",
        "cores": cores,
        "flags": [flag for flag in _RELEVANT_FLAGS if flag in flags],
    }


def describe_cpu(identity: dict | None = None) -> str:
    """'Intel(R) Xeon(R) Processor (family 6 model 143), 2 cores, flags: avx2 ... amx_bf16' for outputs."""
    cpu = identity or cpu_identity()
    family, model, _ = [*cpu["family"].split("/"), "?", "?"][:3]
    flags = " ".join(cpu["flags"]) or "none of " + " ".join(_RELEVANT_FLAGS)
    amx = "AMX" if "amx_bf16" in cpu["flags"] else "no AMX"
    return f"{cpu['model']} (family {family} model {model}), {cpu['cores']} cores, {amx}; flags: {flags}"


def engine_versions() -> dict[str, str | None]:
    """Installed versions of the engines' packages (None: not installed), without importing them."""
    versions: dict[str, str | None] = {}
    for package in ("ncnn", "torch", "openvino", "nncf"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def machine_key(weights_id: str) -> dict:
    """What a calibration is valid for; any difference means calibrating again."""
    return {
        "version": CALIBRATION_VERSION,
        "cpu": cpu_identity(),
        "engines": engine_versions(),
        "weights": weights_id,
    }


def available_candidates(engine: str = "auto") -> list[Candidate]:
    """Every engine/precision installed and native here (bf16 only where the CPU computes it natively,
    int8 only where it has int8 dot products: AVX-512 VNNI, AVX-VNNI or AMX-INT8, and NNCF is installed).

    `engine` limits the search to one engine, so that asking for ncnn does not import torch.
    """
    from simages.extraction.ncnn_vgg import ncnn_available
    from simages.extraction.openvino_vgg import openvino_available, openvino_bf16
    from simages.extraction.quantisation import int8_available

    found = []
    if engine in ("auto", "ncnn") and ncnn_available():
        found.append(Candidate("ncnn", "fp32"))
    if engine in ("auto", "torch"):
        found.append(Candidate("torch", "fp32"))
        if _torch_bf16():
            found.append(Candidate("torch", "bf16"))
    if engine in ("auto", "openvino") and openvino_available():
        found.append(Candidate("openvino", "fp32"))
        if openvino_bf16():
            found.append(Candidate("openvino", "bf16"))
        if int8_available(cpu_identity()["flags"]):
            found.append(Candidate("openvino", "int8"))
    return found


def _torch_bf16() -> bool:
    from simages.extraction.torch_vgg import native_bf16

    return native_bf16() is not None


# --- requests -------------------------------------------------------------------------------------


def requested(engine: str | None = None, precision: str | None = None) -> tuple[str, str]:
    """(engine, precision) as asked: argument, else environment, else 'auto'; ValueError if unknown."""
    engine = (engine or environment_setting(ENV_ENGINE) or "auto").strip().lower()
    precision = (precision or environment_setting(ENV_PRECISION) or "auto").strip().lower()
    if engine not in ("auto", *ENGINES):
        raise ValueError(f"{ENV_ENGINE}={engine!r}: choose one of auto, {', '.join(ENGINES)}")
    if precision not in ("auto", *PRECISIONS):
        raise ValueError(f"{ENV_PRECISION}={precision!r}: choose one of auto, {', '.join(PRECISIONS)}")
    return engine, precision


_INSTALL = {"ncnn": "pip install ncnn", "openvino": "pip install openvino", "torch": "pip install torch"}


def matching(candidates: Sequence[Candidate], engine: str, precision: str) -> list[Candidate]:
    """The candidates a request allows; RuntimeError saying what to install or change when none is left."""
    allowed = [c for c in candidates if engine in ("auto", c.engine) and precision in ("auto", c.precision)]
    if allowed:
        return allowed
    if engine != "auto" and not any(c.engine == engine for c in candidates):
        raise RuntimeError(f"{ENV_ENGINE}={engine}, but {engine} is not installed ({_INSTALL[engine]})")
    if precision == "int8":
        raise RuntimeError(
            f"{ENV_PRECISION}=int8, but int8 runs only on OpenVINO with NNCF installed "
            "(pip install 'simages[int8]') and on CPUs with int8 dot products (AVX-512 VNNI, AVX-VNNI, "
            "AMX-INT8)"
        )
    if precision == "bf16":
        raise RuntimeError(
            f"{ENV_PRECISION}=bf16, but {'no engine' if engine == 'auto' else engine} computes bf16 "
            "natively on this CPU (it needs AVX-512 BF16 or AMX); emulated bf16 would be slower than fp32"
        )
    raise RuntimeError(f"no engine available for {ENV_ENGINE}={engine} {ENV_PRECISION}={precision}")


def _request_words(engine: str, precision: str) -> str:
    words = [
        f"{name}={value}"
        for name, value in ((ENV_ENGINE, engine), (ENV_PRECISION, precision))
        if value != "auto"
    ]
    return " ".join(words) or "auto"


def choose(measurements: Sequence[Measurement], engine: str = "auto", precision: str = "auto") -> Choice:
    """The fastest faithful measured candidate the request allows, with the reason in words.

    When the request allows none that is faithful (e.g. SIMAGES_PRECISION=bf16 on a CPU where bf16 fails
    the check), the request wins over fidelity and the reason says so.
    """
    allowed = set(matching([m.candidate for m in measurements], engine, precision))
    pool = [
        m for m in measurements if m.candidate in allowed and m.error is None and m.ms_per_image is not None
    ]
    if not pool:
        raise RuntimeError("no engine could run VGG-16 here: " + "; ".join(m.summary() for m in measurements))
    faithful = [m for m in pool if m.faithful]
    best = min(faithful or pool, key=lambda m: m.ms_per_image)
    others = [m for m in measurements if m is not best]
    others.sort(key=lambda m: (m.ms_per_image is None, m.ms_per_image or 0.0))
    also = "; ".join(m.summary() for m in others)
    words = _request_words(engine, precision)
    if faithful:
        verdict = (
            f"fastest faithful of {len(pool)} calibrated" if len(pool) > 1 else "the only one calibrated"
        )
    else:
        verdict = f"FAILS the fidelity check (min cos {best.min_cosine:.5f}) but was asked for"
    reason = f"{words}: {best.candidate.label}, {best.ms_per_image:.0f} ms/img calibrated, {verdict}"
    return Choice(best.candidate, reason + (f" ({also})" if also else ""))


# --- measuring ------------------------------------------------------------------------------------


def calibration_images(count: int = 4, scenes: int = 2) -> np.ndarray:
    """`count` real photos (the demo set's, when the repository is here), `scenes` generated scenes, then a
    byte-identical copy of the first: (count + scenes + 1, 224, 224, 3) uint8.

    The generated scenes (calibration_photos.generated_scene: hard edges, fine periodic texture, noise)
    are the hardest inputs for reduced precision measured: int8 that the 4 photos alone let through
    (min cos 0.9993) dropped to 0.983 on them, and failed the Corel-1k criterion, while bf16 kept
    0.99997 on both (docs/speed.md). Where the demo photos are missing (an installed package), more
    generated scenes take their place.
    """
    from simages.extraction.calibration_photos import generated_scene
    from simages.extraction.images import UnreadableImage, load_for_network

    demo = Path(__file__).resolve().parents[2] / "image_sets" / "demo"
    images: list[np.ndarray] = []
    files = sorted(path for path in demo.rglob("*") if path.is_file() and not path.name.startswith("."))
    # Spread over the set (its sub-folders are kinds of subject: faces, textures, space, cats).
    step = max(1, len(files) // count)
    for path in files[::step] + files:
        if len(images) == count:
            break
        try:
            images.append(load_for_network(path))
        except UnreadableImage:
            continue
    seed = 1000
    while len(images) < count + scenes:
        images.append(generated_scene(seed))
        seed += 1
    return np.stack([*images, images[0].copy()])


def _gap_l2(maps: np.ndarray) -> np.ndarray:
    return l2_normalise(maps.reshape(len(maps), -1, maps.shape[-1]).mean(axis=1))


def measure(
    builders: dict[Candidate, Callable[[], object]],
    images: np.ndarray,
    rounds: int = ROUNDS,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[Measurement], dict[Candidate, object]]:
    """Time and check every candidate on `images` ((n, 224, 224, 3), its last image a copy of the first).

    Rounds are interleaved across candidates so that load from other processes falls on all of them;
    after the first round only candidates within CONTENDER_RATIO of the fastest faithful one are timed
    again. Returns the measurements and the networks that were built (for reuse by the caller).
    The reference is the torch fp32 candidate if present, else the first fp32 one.
    """
    networks: dict[Candidate, object] = {}
    results: dict[Candidate, Measurement] = {}
    for candidate, build in builders.items():
        result = Measurement(candidate.engine, candidate.precision)
        results[candidate] = result
        try:
            start = clock()
            network = build()
            result.build_seconds = clock() - start
            network.maps(images[:2])  # warm-up: first calls allocate and pick kernels
            networks[candidate] = network
        except Exception as error:  # a broken or refused engine is one failed candidate, not a crash
            result.error = f"{type(error).__name__}: {error}"
    maps: dict[Candidate, np.ndarray] = {}
    timings: dict[Candidate, list[float]] = {c: [] for c in networks}
    for round_index in range(max(1, rounds)):
        if round_index == 1:
            _fidelity(results, maps, images)
            fastest = min((timings[c][0] for c in networks if results[c].faithful), default=None)
            active = [c for c in networks if fastest is None or timings[c][0] <= CONTENDER_RATIO * fastest]
        else:
            active = list(networks)
        for candidate in active:
            try:
                start = clock()
                out = networks[candidate].maps(images)
                timings[candidate].append((clock() - start) / len(images))
                maps.setdefault(candidate, out)
            except Exception as error:
                results[candidate].error = f"{type(error).__name__}: {error}"
                networks.pop(candidate)
                timings.pop(candidate)
                maps.pop(candidate, None)
    _fidelity(results, maps, images)
    for candidate, times in timings.items():
        if times:
            results[candidate].ms_per_image = 1000 * min(times)
    return list(results.values()), networks


def fidelity_figures(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """The calibration's check on maps of its photos ((n, 7, 7, 512), the last image a byte-identical copy
    of the first): {'min_cosine': worst GAP+L2 cosine with the reference's, 'copy_cosine': the copy's
    with its original's, same engine}. `Measurement(**figures).faithful` is the verdict."""
    ref, gap = _gap_l2(reference)[:-1], _gap_l2(candidate)
    return {
        "min_cosine": float((gap[:-1] * ref).sum(axis=1).min()),
        "copy_cosine": float((gap[0] * gap[-1]).sum()),
    }


def _fidelity(results: dict[Candidate, Measurement], maps: dict[Candidate, np.ndarray], images) -> None:
    reference = _reference(maps)
    if reference is None:
        return
    for candidate, out in maps.items():
        figures = fidelity_figures(maps[reference], out)
        results[candidate].min_cosine = figures["min_cosine"]
        results[candidate].copy_cosine = figures["copy_cosine"]


def _reference(maps: dict[Candidate, np.ndarray]) -> Candidate | None:
    if Candidate("torch", "fp32") in maps:
        return Candidate("torch", "fp32")
    return next((c for c in sorted(maps) if c.precision == "fp32"), None)


# --- the cache ------------------------------------------------------------------------------------


def cache_file(folder: Path) -> Path:
    return folder / f"engine-calibration-v{CALIBRATION_VERSION}.json"


def load_calibration(folder: Path, key: dict) -> Calibration | None:
    """The kept calibration for exactly this key, or None (missing, unreadable, or for another machine)."""
    try:
        data = json.loads(cache_file(folder).read_text())
        entries = [Calibration.from_json(entry) for entry in data["calibrations"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring the unreadable engine calibration %s: %s", cache_file(folder), error)
        return None
    return next((entry for entry in entries if entry.key == key), None)


def save_calibration(folder: Path, calibration: Calibration) -> None:
    """Keep it beside other machines' calibrations (a features/ folder may be shared), atomically."""
    entries: list[dict] = []
    try:
        entries = json.loads(cache_file(folder).read_text())["calibrations"]
    except (OSError, ValueError, KeyError, TypeError):
        entries = []
    entries = [entry for entry in entries if entry.get("key") != calibration.key]
    entries.append(calibration.to_json())
    text = json.dumps({"calibrations": entries[-8:]}, indent=1)
    write_atomically(cache_file(folder), lambda stream: stream.write(text.encode()))


def calibrate(
    builders: dict[Candidate, Callable[[], object]], key: dict, images: np.ndarray | None = None
) -> tuple[Calibration, dict[Candidate, object]]:
    """Measure every candidate now (a minute or more on 2 cores) and return the calibration and the built
    networks."""
    start = time.perf_counter()
    measurements, networks = measure(builders, calibration_images() if images is None else images)
    return Calibration(key, measurements, time.perf_counter() - start), networks


# Said before the first run's progress bar while the calibration runs: 30-40 s on an idle 2-core Xeon, with
# the int8 candidate's quantisation 2-3 minutes on a busy one (10 photos, load 13-15, 2026-12-06).
CALIBRATING = ("Choosing the fastest faithful engine for this CPU (done once per machine; a minute or more "
               "on 2 cores)...")


def calibration_pending(
    weights_id: str, cache_folder: Path | None, engine: str | None = None, precision: str | None = None
) -> bool:
    """Whether `calibrated_choice` with these arguments would calibrate now: a choice to make among
    several candidates and no calibration kept for this machine key. Raises ValueError for an unknown
    request (as `calibrated_choice` would)."""
    engine, precision = requested(engine, precision)
    if engine != "auto" and precision != "auto":
        return False
    if cache_folder is not None and load_calibration(cache_folder, machine_key(weights_id)) is not None:
        return False
    try:
        offered = _offered(available_candidates(engine), cache_folder, precision)
        return len(matching(offered, engine, precision)) > 1
    except RuntimeError:  # nothing installed matches: the load says so, no calibration runs
        return False


def calibrated_choice(
    weights_id: str,
    cache_folder: Path | None,
    build: Callable[[Candidate], object],
    engine: str | None = None,
    precision: str | None = None,
    fresh: bool = False,
) -> tuple[object, Choice]:
    """The network to run and why: forced, or the fastest faithful from the (kept) calibration.

    `build(candidate)` makes a network. With both engine and precision given, or only one candidate
    allowed and no calibration kept, nothing is measured. Otherwise the calibration kept in
    `cache_folder` for this machine key is used, or made (under a lock, so two processes starting
    together do not time each other) and kept. `fresh` calibrates even when one is kept (and
    there is a choice to make). Without `cache_folder` (a cluster worker) int8 is not offered unless asked
    for: its quantised model could not be kept.
    Raises ValueError for an unknown request, RuntimeError when what is asked for is not available.
    """
    engine, precision = requested(engine, precision)
    if engine != "auto" and precision != "auto":
        matching(available_candidates(engine), engine, precision)  # says what to install when missing
        candidate = Candidate(engine, precision)
        return build(candidate), Choice(candidate, f"forced by {_request_words(engine, precision)}")
    key = machine_key(weights_id)
    kept = None if fresh or cache_folder is None else load_calibration(cache_folder, key)
    if kept is not None:
        return _chosen(kept, {}, build, engine, precision)
    allowed = matching(_offered(available_candidates(engine), cache_folder, precision), engine, precision)
    if len(allowed) == 1:
        only = allowed[0]
        words = _request_words(engine, precision)
        return build(only), Choice(only, f"{words}: {only.label}, the only candidate installed here")
    if cache_folder is None:
        found = _offered(available_candidates(), cache_folder, precision)
        calibration, networks = calibrate({c: _builder(build, c) for c in found}, key)
        return _chosen(calibration, networks, build, engine, precision)
    with set_lock(cache_folder, "engine-calibration"):
        # Another process may have calibrated while this one waited for the lock.
        calibration = None if fresh else load_calibration(cache_folder, key)
        networks: dict[Candidate, object] = {}
        if calibration is None:
            log.info("calibrating the VGG-16 engines on this CPU (once per machine, a minute or more)")
            calibration, networks = calibrate({c: _builder(build, c) for c in available_candidates()}, key)
            try:
                save_calibration(cache_folder, calibration)
            except OSError as error:  # read-only features/: the next process calibrates again
                log.warning("could not keep the engine calibration in %s: %s", cache_folder, error)
    return _chosen(calibration, networks, build, engine, precision)


def _offered(found: list[Candidate], cache_folder: Path | None, precision: str) -> list[Candidate]:
    """The candidates worth calibrating: without a folder to keep the quantised model in (a cluster worker
    process), int8 would be quantised again in every process, tens of seconds of CPU each, then thrown
    away, so it is left out unless asked for."""
    if cache_folder is None and precision != "int8":
        return [c for c in found if c.precision != "int8"]
    return found


def _builder(build: Callable[[Candidate], object], candidate: Candidate) -> Callable[[], object]:
    return lambda: build(candidate)


def _chosen(
    calibration: Calibration,
    networks: dict,
    build: Callable[[Candidate], object],
    engine: str,
    precision: str,
) -> tuple[object, Choice]:
    choice = choose(calibration.measurements, engine, precision)
    choice = Choice(choice.candidate, choice.reason, calibration)
    network = networks.get(choice.candidate) or build(choice.candidate)
    return network, choice
