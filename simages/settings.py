"""Where SIMages keeps things and how it computes descriptors, read from options and the environment."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR, DescriptorSpec
from simages.naming import derived_name

ENV_ROOT = "SIMAGES_ROOT"
ENV_WEIGHTS = "SIMAGES_WEIGHTS"
ENV_DESCRIPTOR = "SIMAGES_DESCRIPTOR"
ENV_CLUSTER = "SIMAGES_CLUSTER"
ENV_SHARED_PATH = "SIMAGES_SHARED_PATH"
# Process-wide knobs, read where they act (worker processes inherit them) through `environment_setting`.
ENV_ENGINE = "SIMAGES_ENGINE"
ENV_PRECISION = "SIMAGES_PRECISION"
ENV_ANN_THREADS = "SIMAGES_ANN_THREADS"
ENV_LOG_BATCHES = "SIMAGES_LOG_BATCHES"
ENV_COREL = "SIMAGES_COREL"

# Every setting SIMages reads from the environment, with what it does: the README's settings table.
ENVIRONMENT: dict[str, str] = {
    ENV_ROOT: "folder holding image_sets/ and features/ (option --root; default: the current directory)",
    ENV_WEIGHTS: "local VGG-16 notop weights file (.h5) (option --weights; default: Keras' own download)",
    ENV_DESCRIPTOR: "descriptor spec, e.g. gem3+l2+whiten or head:NAME (option --descriptor)",
    ENV_CLUSTER: "index on a Dask cluster: tcp://HOST:8786 or local[:N] (option --cluster of index)",
    ENV_SHARED_PATH: "with a cluster: where the workers see image_sets/ (option --shared-path of index)",
    ENV_ENGINE: "the network's engine: auto (default, calibrated per CPU), openvino, ncnn or torch",
    ENV_PRECISION: "the engine's precision: auto (default), fp32, bf16 or int8 (where the engine has it)",
    ENV_ANN_THREADS: "threads FAISS may use for an ANN search or build (default: 1, the app shares the CPU)",
    ENV_LOG_BATCHES: "1: log each indexing batch's timings on stderr (option --log-batches of index)",
    ENV_COREL: "Corel-1k's folder for `simages bench extract` (default: ../shared/data/corel1k)",
}


def environment_setting(name: str) -> str | None:
    """The value of one of SIMages' environment settings (`ENVIRONMENT` lists them), None when unset or
    empty. KeyError for a name that is not one of them, so no setting is read without being listed."""
    if name not in ENVIRONMENT:
        raise KeyError(f"{name} is not a SIMages setting (add it to settings.ENVIRONMENT)")
    return os.environ.get(name) or None

# Keras' own download of the notop weights; used when no local file is named.
KERAS_WEIGHTS_ID = "keras:vgg16_weights_tf_dim_ordering_tf_kernels_notop"


class MissingWeightsError(RuntimeError):
    """The VGG-16 weights file named in the settings does not exist."""


@dataclass(frozen=True)
class Settings:
    root: Path
    weights: Path | None = None
    descriptor: DescriptorSpec = field(default_factory=lambda: DEFAULT_DESCRIPTOR)
    batch_size: int = 32
    # Above this many pixels an image is refused as a likely decompression bomb.
    max_image_pixels: int = 120_000_000
    # Whether `descriptor` was asked for (option or environment), not the default: queries then apply it
    # to stores written with another one, or say the set must be re-indexed (nearest.intents.descriptor_for).
    descriptor_chosen: bool = False
    # Where indexing runs its mappers: None in-process, "local[:N]" or "tcp://HOST:PORT" on Dask.
    cluster: str | None = None
    # Where cluster workers see image_sets/ (they then read the files themselves); None: sent as bytes.
    shared_path: Path | None = None

    def command(self, rest: str) -> str:
        """`simages REST` as the user can type it next: with `--root ROOT` when the root is not the current
        directory, so a suggested follow-up (index a set, apply a plan, undo it) acts on this collection."""
        import shlex

        here = self.root == Path.cwd().resolve()
        return f"simages {rest}" if here else f"simages --root {shlex.quote(str(self.root))} {rest}"

    @property
    def image_sets(self) -> Path:
        return self.root / "image_sets"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def thumbnails(self) -> Path:
        return self.features / ".thumbnails"

    @property
    def partial(self) -> Path:
        """Checkpoints of an indexing run in progress, so a killed run resumes."""
        return self.features / ".partial"

    @property
    def model_cache(self) -> Path:
        """VGG-16's kernels as read from Keras, per weights file (extraction/conv_cache.py)."""
        return self.features / ".cache"

    def partial_dir(self, set_name: str) -> Path:
        """The checkpoints of one set's run in progress."""
        return self.partial / derived_name(set_name)

    @property
    def locks(self) -> Path:
        return self.features / ".locks"

    def store_path(self, set_name: str) -> Path:
        return self.features / derived_name(set_name, ".npz")

    def weights_id(self) -> str:
        """Identity of the weights recorded in every store: a store made with other weights is rebuilt."""
        if self.weights is None:
            return KERAS_WEIGHTS_ID
        message = self.check_weights()
        if message:
            raise MissingWeightsError(message)
        return "sha256:" + file_sha256(str(self.weights.resolve()))

    def check_weights(self) -> str | None:
        """A message for the user when the named weights file is missing, else None."""
        return weights_problem(self.weights)

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls,
        root: str | os.PathLike[str] | None = None,
        weights: str | os.PathLike[str] | None = None,
        descriptor: str | None = None,
        cluster: str | None = None,
        shared_path: str | os.PathLike[str] | None = None,
        **overrides: object,
    ) -> Settings:
        """Options win over environment variables, which win over defaults."""
        root_value = root or os.environ.get(ENV_ROOT) or os.getcwd()
        cluster_value = cluster or os.environ.get(ENV_CLUSTER) or None
        shared_value = shared_path or os.environ.get(ENV_SHARED_PATH) or None
        weights_value = weights or os.environ.get(ENV_WEIGHTS) or None
        descriptor_value = descriptor or os.environ.get(ENV_DESCRIPTOR) or None
        root_path = Path(root_value).expanduser().resolve()
        chosen = DEFAULT_DESCRIPTOR
        if descriptor_value:
            # Imported here: the registry needs numpy, which `simages --help` should not load.
            from simages.training.registry import resolve_descriptor

            chosen = resolve_descriptor(descriptor_value, root_path / "features")
        return cls(
            root=root_path,
            weights=Path(weights_value).expanduser() if weights_value else None,
            # `head:NAME` is looked up in features/heads/ (HeadError, a ValueError, when there is none).
            descriptor=chosen,
            cluster=cluster_value,
            shared_path=Path(shared_value).expanduser() if shared_value else None,
            **{"descriptor_chosen": bool(descriptor_value), **overrides},  # type: ignore[arg-type]
        )


def weights_problem(weights: Path | None) -> str | None:
    """Why a named weights file cannot be used (it is missing), for people; None if fine or none named."""
    if weights is not None and not weights.is_file():
        return (
            f"VGG-16 weights file not found: {weights}. Set {ENV_WEIGHTS} (or --weights) "
            "to the path of vgg16_imagenet_notop.h5, or unset it to let Keras download its own copy."
        )
    return None


@lru_cache(maxsize=8)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def file_sha256(path: str) -> str:
    """Short sha256 of a file, remembered per (path, size, mtime) so repeated checks cost nothing."""
    try:
        stat = os.stat(path)
    except FileNotFoundError as error:
        raise MissingWeightsError(f"VGG-16 weights file not found: {path}") from error
    return _sha256_cached(path, stat.st_size, stat.st_mtime_ns)
