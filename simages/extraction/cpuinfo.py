"""What /proc/cpuinfo says of this machine's CPU: one reader for the engine calibration, the bf16 check and
the hardware-limit report, so they never disagree about which CPU this is."""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def first_processor() -> dict[str, str]:
    """The first processor's fields ("model name", "cpu family", "flags", "cpu MHz", ...), values stripped;
    empty where /proc/cpuinfo cannot be read (not Linux). The first block speaks for every core here."""
    fields: dict[str, str] = {}
    try:
        text = CPUINFO.read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    return fields


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel names them (avx512_vnni, amx_int8, ...); empty if unknown."""
    return set(first_processor().get("flags", "").split())
