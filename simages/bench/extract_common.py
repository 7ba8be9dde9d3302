"""What `simages bench extract` and its `--fidelity` part share: the Corel sample, the machine header,
every installed engine (apart, so the two modules do not import each other)."""

from __future__ import annotations

import os
from pathlib import Path

from simages.extraction.calibration import describe_cpu
from simages.extraction.network import Network
from simages.settings import ENV_COREL, environment_setting


def default_corel() -> Path:
    chosen = environment_setting(ENV_COREL)
    if chosen:
        return Path(chosen)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "corel1k"


def sample_corel(root: Path, count: int) -> list[Path]:
    """`count` images spread evenly over the classes, always the same ones."""
    files = sorted(root.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no Corel images under {root}; pass --data or set {ENV_COREL}")
    if count >= len(files):
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def machine_header() -> str:
    """Which CPU and how loaded it is: a figure from a shared machine can then be read for what it is."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"CPU: {describe_cpu()}\nload average at start: {load:.2f} (other processes inflate absolute times)"
    )


def all_engines(convs, cache_folder: Path | None = None) -> list[Network]:
    """Every engine and precision installed and native on this CPU, each built on the same kernels (int8
    quantised on first use and kept in `cache_folder`)."""
    from simages.extraction.calibration import available_candidates
    from simages.extraction.network import build_engine

    return [build_engine(convs, c.engine, c.precision, cache_folder) for c in available_candidates()]
