"""The body of a background worker process: index sets and describe key images on request.

Workers are started with the spawn method, so they share nothing with the process that serves pages
(no forked threads or locks, no copy of the web server). Requests and events are plain tuples on
multiprocessing queues; vectors travel as numpy arrays.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simages.extraction.calibration import CALIBRATING
from simages.extraction.describe import describe_image_file, describe_image_file_oriented, network_for
from simages.extraction.image_errors import UnreadableImage
from simages.extraction.network import Network, calibration_pending_for
from simages.jobs.derived import refresh_atlas, refresh_derived
from simages.jobs.distributor import ClusterError
from simages.jobs.indexer import index_set
from simages.settings import ENV_LOG_BATCHES, MissingWeightsError, Settings, environment_setting
from simages.store.npz_store import StoreError

# Requests: ("index", set_name[, build_atlas]) | ("describe", request_id, path[, oriented]): with
#             `oriented`, the (5, d) descriptors of the image as it is, turned and mirrored
#           | ("warm",): build the network now
#           | ("calibrate",): estimate the duplicate threshold on the collection's own photos when the kept
#             estimate is not for its current duplicates space (simages.copies.calibration.refresh)
#           | None (stop)
# Events:   ("started", set_name) | ("waiting", set_name) | ("progress", set_name, done, total)
#           | ("preparing", set_name, why): the network is being built, `why` the engine calibration's
#             notice or "" | ("ready", set_name): it is built, so a rate measured from here is the run's
#           | ("done", set_name, summary_dict) | ("failed", set_name, message)
#           | ("derived", set_name, message): memory-mapped copy / ANN index refreshed after "done", then
#             (a second one) the atlas map too
#           | ("vector", request_id, vector_or_None, error_or_None) | ("warmed", error_or_None)
#           | ("calibration", state, message): "running", then "done" or "failed" (message: why)




def worker_main(
    settings: Settings, requests: Any, events: Any, network_factory: Callable[[], Network] | None = None
) -> None:
    # Ctrl+C is the app's to handle: it stops this process through `requests` (see manager._Worker).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    network: Network | None = None
    if environment_setting(ENV_LOG_BATCHES):
        # `simages index --log-batches`: each batch's stage times, on the terminal's stderr.
        logging.basicConfig(format="%(message)s")
        logging.getLogger("simages.batches").setLevel(logging.INFO)

    def get_network() -> Network:
        nonlocal network
        if network is None and network_factory is not None:
            network = network_factory()
        elif network is None:
            network = network_for(settings.weights, settings.model_cache)
        return network

    while True:
        request = requests.get()
        if request is None:
            return
        if request[0] == "index":
            set_name = request[1]

            def network_announced(set_name: str = set_name) -> Network:
                if network is not None:
                    return network
                pending = _calibration_pending(settings, network_factory)
                events.put(("preparing", set_name, CALIBRATING if pending else ""))
                built = get_network()
                events.put(("ready", set_name))
                return built

            atlas = request[2] if len(request) > 2 else True
            # On a cluster the factory travels to the Dask workers, which build (and calibrate) their own
            # networks: the announcing wrapper holds this process's event queue, which cannot be pickled.
            factory = get_network if settings.cluster else network_announced
            _index(settings, set_name, events, factory, atlas=atlas)
        elif request[0] == "warm":
            _warm(get_network, events)
        elif request[0] == "calibrate":
            _calibrate(settings, events, get_network)
        elif request[0] == "describe":
            oriented = len(request) > 3 and bool(request[3])
            _describe(settings, request[1], Path(request[2]), events, get_network, oriented)


def _calibration_pending(settings: Settings, network_factory: Callable[[], Network] | None) -> bool:
    """Whether building the network will calibrate the engines first. A stand-in factory (tests) says so
    with a true `calibrates` attribute."""
    if network_factory is not None:
        return bool(getattr(network_factory, "calibrates", False))
    try:
        return calibration_pending_for(settings.weights, settings.model_cache)
    except OSError:  # weights unreadable: the load reports it
        return False


def _index(settings: Settings, set_name: str, events: Any, get_network: Callable[[], Network], *,
           atlas: bool = True) -> None:
    events.put(("started", set_name))
    preparing = [0.0]

    def timed_network() -> Network:
        # The network's build (and the first run's engine calibration) is not the images' time.
        start = time.monotonic()
        try:
            return get_network()
        finally:
            preparing[0] += time.monotonic() - start

    try:
        summary = index_set(
            settings,
            set_name,
            progress=lambda p: events.put(("progress", p.set_name, p.done, p.total)),
            # A cluster's factory travels to its workers (pickled), which build their own networks.
            network_factory=get_network if settings.cluster else timed_network,
            on_wait=lambda: events.put(("waiting", set_name)),
        )
        summary.preparing_seconds = preparing[0]
    except (MissingWeightsError, LookupError, ValueError, ClusterError) as error:
        events.put(("failed", set_name, str(error)))
    except StoreError as error:  # a store not ours to replace (another user's, a newer SIMages')
        events.put(("failed", set_name, f"{error}; {error.remedy}"))
    except Exception as error:  # a worker must report, never die silently
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        events.put(("failed", set_name, f"indexing failed: {detail}"))
    else:
        events.put(("done", set_name, summary.to_dict()))
        _refresh_derived(settings, set_name, events, atlas=atlas)


def _refresh_derived(settings: Settings, set_name: str, events: Any, *, atlas: bool = True) -> None:
    """After a run: the memory-mapped copy and the ANN index, in this background process. Derived files
    are optional, so a failure is reported and queries fall back to the `.npz` and exact search."""
    try:
        message = refresh_derived(settings, set_name)
    except Exception as error:
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        message = f"search index not built ({detail}); queries use the exact search"
    events.put(("derived", set_name, message))
    if not atlas:
        return
    try:
        atlas_message = refresh_atlas(settings, set_name)
    except Exception as error:  # the atlas page then shows its instant PCA view
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        atlas_message = f"atlas map not computed ({detail})"
    if atlas_message:  # the status keeps one message per set: the search index's, then both
        events.put(("derived", set_name, "; ".join(m for m in (message, atlas_message) if m)))


def _calibrate(settings: Settings, events: Any, get_network: Callable[[], Network]) -> None:
    """After indexing: synthetic edits of a sample of the user's photos when the collection has none yet
    or has doubled since (simages.copies.copy_pairs; the duplicates space is then learned from them, and
    the sets' memory-mapped duplicates copies are made again in it), then the threshold's estimate on the
    user's photos, measured when the collection's duplicates space has none (a new space, or never
    measured); else nothing is done."""
    from simages.copies.calibration import refresh
    from simages.copies.copy_pairs import refresh_pairs
    from simages.copies.space import collection_stores
    from simages.nearest.sets.cache import DescriptorCache

    events.put(("calibration", "running", ""))
    try:
        try:
            made = refresh_pairs(settings, get_network)
        except Exception:  # the plain whitening stays; the calibration below still measures it
            logging.getLogger(__name__).warning("could not learn the duplicates space from edited copies",
                                                exc_info=True)
            made = []
        if made:
            for set_name, _ in collection_stores(settings):
                refresh_derived(settings, set_name, build_ann=False)
        refresh(settings, DescriptorCache(), network=get_network)
    except Exception as error:  # shown as "not estimated"; indexing is not affected
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        events.put(("calibration", "failed", detail))
    else:
        events.put(("calibration", "done", ""))


def _warm(get_network: Callable[[], Network], events: Any) -> None:
    """Build the network before the first key image arrives (the app's start), so describing it takes a
    second instead of the load's ~15 s; a failure is reported by the describe that needs it."""
    try:
        get_network()
    except Exception as error:
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        events.put(("warmed", detail))
    else:
        events.put(("warmed", None))


def _describe(
    settings: Settings, request_id: int, path: Path, events: Any, get_network: Callable[[], Network],
    oriented: bool = False,
) -> None:
    describe = describe_image_file_oriented if oriented else describe_image_file
    try:
        vector = describe(path, get_network(), settings.descriptor, settings.max_image_pixels)
    except (UnreadableImage, MissingWeightsError) as error:
        events.put(("vector", request_id, None, str(error)))
    except Exception as error:
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        events.put(("vector", request_id, None, f"could not describe the image: {detail}"))
    else:
        events.put(("vector", request_id, vector, None))
