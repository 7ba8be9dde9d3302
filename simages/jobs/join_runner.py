"""Set joins for the app, run in background threads: progress, cancel, and a cache of finished joins.

A join of two large sets takes seconds; the page that asked for it must stay responsive and so must every
other tab. Each join runs in its own daemon thread (numpy's matrix products release the GIL; at most
`workers` joins compute at once, the rest wait their turn) and reports how many images of A are done.
Finished joins are kept per (A, searched sets, settings, store versions): going back and forth between
views, pages or thresholds already computed costs nothing, and a re-indexed set (a new store file) is
joined again. Two tabs asking for the same join share one job.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from simages.copies.levels import Level
from simages.copies.pixels import image_files
from simages.copies.verification import LocalFeatureCache, Verification
from simages.nearest.core.distribution import ScoreDistribution
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.results import Match
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.groups import join_groups, join_pair_levels
from simages.nearest.joins.distribution import join_distribution
from simages.nearest.joins.join import is_self_join
from simages.nearest.joins.multi import SetMatch, iter_multi_join
from simages.nearest.joins.pairs import DEFAULT_KEEP, JoinPairs, PairCollector, node
from simages.nearest.joins.pairs_once import PairsOnce
from simages.nearest.sets.cache import DescriptorCache, store_version
from simages.operations.join import JoinRequest, graph_note, graph_rows, graph_search, open_sets
from simages.operations.join_listing import as_join_pair, below_candidates, copies_below
from simages.settings import Settings

RUNNING, DONE, CANCELLED, FAILED = "running", "done", "cancelled", "failed"


class JoinCancelled(Exception):
    """Raised inside the worker when its job was cancelled."""


@dataclass(frozen=True)
class JoinOutcome:
    """A finished join: its pairs, the sampled score distribution, the groups (connected components of the
    kept pairs, largest first, `set/image` names) and how long its parts took (seconds)."""

    pairs: JoinPairs
    distribution: ScoreDistribution
    groups: list[list[str]]
    expansion: int
    explain: str
    load_seconds: float
    join_seconds: float
    # The search used: "exact" (every pair), or "ann-graph" (each image's nearest from the ANN index).
    search: str = "exact"
    # The duplicates intent: each kept pair's level (same order as `pairs.pairs`; exact for the same
    # pixels, look-alike where the images' keypoints show two photos); None for similar images, and while
    # `checking`: the pairs are shown at once, their keypoints checked after (about 0.1 s a pair of
    # photos), then the outcome is replaced by one with the levels and the groups of verified copies.
    levels: tuple[Level, ...] | None = None
    checking: bool = False
    # What the keypoints found for each verified pair, by (A's image, B's set, B's image): the turn and
    # mirror of a copy, so the page says what changed as `simages duplicates` does ("turned 90° clockwise").
    verified: Mapping[tuple[str, str, str], Verification] | None = None


@dataclass(eq=False)
class JoinJob:
    """One join, running or finished. `done`/`total` count images of A; `state` is running, done,
    cancelled or failed (with `error`, a message for the user)."""

    request: JoinRequest
    state: str = RUNNING
    done: int = 0
    total: int = 0
    phase: str = "loading the descriptors"
    error: str = ""
    outcome: JoinOutcome | None = None
    versions: tuple[object, ...] = ()
    started: float = field(default_factory=time.perf_counter)
    # Set by the worker the moment the first rows are joined: when the first page could show (benchmark).
    finished_at: float | None = None
    # A duplicates join's keypoint checks after its pairs are shown: how many pairs are checked, of how
    # many (the kept pairs and, for new photos against other sets, each one's nearest below the threshold).
    checked: int = 0
    to_check: int = 0
    # The sets as read, from the join to its keypoint checks (dropped after them).
    _sets: tuple[SetIndex, list[SetIndex]] | None = field(default=None, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def cancel(self) -> None:
        """Ask the worker to stop; it does within one block of rows (a fraction of a second)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (any state); False on timeout."""
        return self._finished.wait(timeout)


@dataclass(frozen=True)
class GraphRows:
    """A join's rows from the ANN kNN graph, and the sentence saying so."""

    rows: list[tuple[str, list[SetMatch]]]
    note: str


class JoinRunner:
    """Starts joins in background threads and keeps the last `cache_entries` finished ones."""

    def __init__(
        self,
        settings: Settings,
        descriptors: DescriptorCache,
        *,
        workers: int = 2,
        cache_entries: int = 8,
        keep: int = DEFAULT_KEEP,
        groups: Callable[[JoinPairs, bool, Sequence[Level] | None], list[list[str]]] = join_groups,
    ) -> None:
        self.settings = settings
        self.descriptors = descriptors
        self.keep = keep
        self.groups = groups
        self._slots = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._jobs: OrderedDict[tuple[object, ...], JoinJob] = OrderedDict()
        self._cache_entries = cache_entries
        self.started = 0  # joins actually computed (tests and the benchmark see the cache work)

    def _versions(self, request: JoinRequest) -> tuple[object, ...]:
        return tuple(store_version(self.settings, name) for name in (request.a, *request.bs))

    def start(self, request: JoinRequest) -> JoinJob:
        """The job for this join: a finished one from the cache when the stores have not changed since, the
        running one when another tab already asked for it, else a new one started in the background."""
        key: tuple[object, ...] = (request, self._versions(request))
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state in (RUNNING, DONE):
                self._jobs.move_to_end(key)
                return job
            job = JoinJob(request, versions=key[1])
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._evict()
            self.started += 1
        threading.Thread(target=self._run, args=(job,), name="simages-join", daemon=True).start()
        return job

    def _evict(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state != RUNNING]
        for k in finished[: max(0, len(finished) - self._cache_entries)]:
            del self._jobs[k]

    def _forget(self, job: JoinJob) -> None:
        with self._lock:
            for k, j in list(self._jobs.items()):
                if j is job:
                    del self._jobs[k]

    def _run(self, job: JoinJob) -> None:
        try:
            with self._slots:
                job.outcome = self._compute(job)
                job.state = DONE  # the pairs are shown; a duplicates join's keypoints are checked next
                self._verify(job)
        except JoinCancelled:
            job.state = CANCELLED
            self._forget(job)
        except (ValueError, LookupError, OSError) as error:
            job.error = str(error)
            job.state = FAILED
            self._forget(job)
        except Exception as error:  # a bug must reach the page as a message, never hang it
            job.error = f"the join failed: {error!r}"
            job.state = FAILED
            self._forget(job)
        finally:
            job._finished.set()

    def _load(self, request: JoinRequest) -> tuple[SetIndex, list[SetIndex]]:
        # The app reads each set as the intent says, whatever --descriptor the app was started with.
        return open_sets(request, self.settings, self.descriptors, apply_chosen=False)

    def _compute(self, job: JoinJob) -> JoinOutcome:
        request, spec = job.request, job.request.spec
        if job.cancelled:
            raise JoinCancelled
        load_start = time.perf_counter()
        a, bs = self._load(request)
        job._sets = (a, bs)
        joined_start = time.perf_counter()
        job.total, job.phase = len(a), "joining"
        collector = PairCollector(spec.higher_is_better, self.keep)
        graph = self._graph_rows(job, a, bs)
        self_join = any(is_self_join(a, b) for b in bs)
        # A range self-join counts its pairs of images once, as its CSV lists them (nearest/joins/pairs_once).
        once = PairsOnce(spec.higher_is_better) if self_join and spec.predicate == "range" else None
        for a_image, row in graph.rows if graph is not None else iter_multi_join(a, bs, spec):
            if job.cancelled:
                raise JoinCancelled
            collector.add(a_image, row)
            if once is not None:
                once.add(a_image, [Match(m.image, m.score) for m in row if m.set == a.set_name])
            if graph is None:
                job.done += 1
        join_seconds = time.perf_counter() - joined_start
        job.phase = "measuring the score distribution"
        if once is not None:
            once.rest()
        pairs = JoinPairs(
            a_set=request.a,
            b_sets=request.bs,
            higher_is_better=spec.higher_is_better,
            keys=sorted(a.names),
            pairs=collector.best(),
            passed=collector.passed,
            total=sum(len(a) * (len(b) - (1 if is_self_join(a, b) else 0)) for b in bs),
            self_join=self_join,
            pairs_of_images=None if once is None else once.count,
        )
        distribution = join_distribution(a, bs, spec.metric, expand=spec.expand)
        copies = request.intent == DUPLICATES.name
        groups = [] if copies else self.groups(pairs, False, None)
        job.finished_at = time.perf_counter()
        return JoinOutcome(
            pairs=pairs,
            distribution=distribution,
            groups=groups,
            expansion=max((b.expansion_for(spec.expand) for b in bs), default=0),
            explain=(bs[0].explain(spec.expand) if bs else "") + (graph.note if graph is not None else ""),
            load_seconds=joined_start - load_start,
            join_seconds=join_seconds,
            search="exact" if graph is None else "ann-graph",
            checking=copies,
        )

    def _verify(self, job: JoinJob) -> None:
        """The levels of a finished duplicates join's pairs (keypoints checked), the copies below its
        threshold among each new photo's nearest (a join of A against other sets: `copies_below`, as
        `simages duplicates A B`), and its groups of verified copies, published as a new outcome once all
        are known. `job.checked` of `job.to_check` counts the checks as they go."""
        outcome, sets = job.outcome, job._sets
        job._sets = None
        if outcome is None or not outcome.checking or sets is None:
            return
        a, bs = sets
        request, pairs = job.request, outcome.pairs
        spec = request.spec
        files = image_files(self.settings.image_sets)
        candidates = below_candidates(a, bs, spec, request.intent)
        kept = len(pairs.pairs)
        job.to_check = kept + len(candidates)
        local = LocalFeatureCache()  # an image in several pairs is read once

        def kept_done(done: int, _total: int) -> None:
            if job.cancelled:  # the app is stopping: within one pair (about 0.1 s)
                raise JoinCancelled
            job.checked = done

        def candidate_done(done: int, _total: int) -> None:
            kept_done(kept + done, job.to_check)

        levels = list(join_pair_levels(pairs, spec.metric, files, local, progress=kept_done,
                                       indexes=[a, *bs]))
        found = copies_below(a, bs, spec, request.intent, files, candidates=candidates, local=local,
                             progress=candidate_done)
        if found:
            pairs = pairs.with_below(as_join_pair(pair) for pair, _ in found)
            levels += [level for _, level in found]
        verified = {}
        for pair in pairs.pairs:
            known = local.known(files(node(pairs.a_set, pair.a)), files(node(pair.b_set, pair.b)))
            if known is not None:
                verified[(pair.a, pair.b_set, pair.b)] = known
        job.outcome = dataclasses.replace(outcome, pairs=pairs, levels=tuple(levels),
                                          groups=self.groups(pairs, True, levels), checking=False,
                                          verified=verified)

    def _graph_rows(self, job: JoinJob, a: SetIndex, bs: list[SetIndex]) -> GraphRows | None:
        """Duplicates within one large set through its ANN kNN graph (`operations.join.graph_search`), or
        None for the exact join. Progress counts images whose nearest images are found; cancellable."""
        request, spec = job.request, job.request.spec
        graph = graph_search(self.descriptors, self.settings, a, bs, spec, request.intent)
        if not graph.used:
            return None
        job.phase = "finding each image's nearest images (ANN index)"

        def progress(done: int, total: int) -> None:
            if job.cancelled:
                raise JoinCancelled
            job.done = done

        rows = [(image, [SetMatch(a.set_name, m.image, m.score) for m in matches])
                for image, matches in graph_rows(a, graph, spec, progress)]
        return GraphRows(rows, graph_note())

    def cancel_all(self, *, wait: float = 5.0) -> None:
        """Cancel every running join (the app is stopping), and wait up to `wait` seconds for them to stop:
        a worker thread killed at exit inside OpenCV's keypoint code aborts the process."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
        deadline = time.perf_counter() + wait
        for job in jobs:
            job.wait(max(0.0, deadline - time.perf_counter()))


def run_join(runner: JoinRunner, request: JoinRequest, timeout: float | None = None) -> JoinJob:
    """Start a join and wait for it (CLI, benchmark, tests)."""
    job = runner.start(request)
    job.wait(timeout)
    return job


def other_sets(all_sets: Sequence[str], a: str) -> tuple[str, ...]:
    """ "All other sets": every set but A, sorted."""
    return tuple(sorted(name for name in all_sets if name != a))
