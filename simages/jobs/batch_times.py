"""Per-batch stage times of an indexing run (read, transfer, decode, network, write), so the slow
stage is visible: one log line per batch, and totals for the run's summary."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from simages.jobs.mapper import MappedBatch

log = logging.getLogger("simages.batches")

STAGES = ("read", "queue", "transfer", "decode", "network", "write")


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over the run's batches (stages overlap across workers)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    batches: int = 0
    images: int = 0

    def add(self, batch: MappedBatch, write_seconds: float) -> None:
        """Count one batch and log its line (INFO on the `simages.batches` logger)."""
        times = {
            "read": batch.read_seconds,
            "queue": batch.queue_seconds,
            "transfer": batch.transfer_seconds,
            "decode": batch.decode_seconds,
            "network": batch.network_seconds,
            "write": write_seconds,
        }
        for stage, value in times.items():
            self.seconds[stage] += value
        count = len(batch.names) + len(batch.failures)
        self.batches += 1
        self.images += count
        log.info(
            "batch %d: %d images on %s; %s",
            batch.index,
            count,
            batch.where,
            ", ".join(f"{stage} {value * 1000:.0f} ms" for stage, value in times.items()),
        )

    def describe(self) -> str:
        """'read 0.1 s, transfer 0.4 s, ...' per image stage totals, for the summary line."""
        return ", ".join(f"{stage} {value:.1f} s" for stage, value in self.seconds.items())
