"""How close the network runs to the CPU's limit: achieved multiply-adds per second against the peak.

VGG-16's 13 convolutions at 224x224 are 15.35 G multiply-adds (MAC) per image (`vgg16_macs`; the
max-pools and ReLUs are negligible). The peak for a precision is cores x clock x the MACs one core's
vector or matrix units complete per cycle with the widest instructions its flags announce
(`macs_per_cycle`, from the vendors' optimisation manuals):

| precision | instruction (flag) | MAC per cycle per core |
|---|---|---|
| fp32 | AVX-512 FMA, two 512-bit ports (avx512f) | 32 (16 on AMD Zen 4: 512-bit ops in two 256-bit halves) |
| fp32 | AVX2 FMA, two 256-bit ports (fma) | 16 |
| bf16 | AMX-BF16 tiles (amx_bf16) | 512 |
| bf16 | AVX-512 BF16 vdpbf16ps, two ports (avx512_bf16) | 64 (32 on Zen 4) |
| int8 | AMX-INT8 tiles (amx_int8) | 1024 |
| int8 | AVX-512 VNNI vpdpbusd, two ports (avx512_vnni) | 128 (64 on Zen 4) |
| int8 | AVX-VNNI, 256-bit (avx_vnni) | 64 |

The clock is the first core's "cpu MHz" in /proc/cpuinfo: on a virtual machine that is the host's
nominal (TSC) rate, and a core may run above it under turbo or below it when others share the package,
so the share of the peak is an estimate to within that (about 1.5x either way), not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

from simages.extraction.cpuinfo import cpu_flags, first_processor

# (in channels, out channels, side) of VGG-16's 13 3x3 convolutions on a 224x224 input.
_VGG16_CONVS = (
    (3, 64, 224), (64, 64, 224),
    (64, 128, 112), (128, 128, 112),
    (128, 256, 56), (256, 256, 56), (256, 256, 56),
    (256, 512, 28), (512, 512, 28), (512, 512, 28),
    (512, 512, 14), (512, 512, 14), (512, 512, 14),
)  # fmt: skip


def vgg16_macs() -> float:
    """Multiply-adds of VGG-16's convolutions for one 224x224 image (15.35e9)."""
    return float(sum(9 * cin * cout * side * side for cin, cout, side in _VGG16_CONVS))


def cpu_mhz() -> float | None:
    """The first core's clock as /proc/cpuinfo reports it (MHz), or None where it says nothing."""
    try:
        return float(first_processor()["cpu MHz"])
    except (KeyError, ValueError):
        return None


def macs_per_cycle(precision: str, flags: list[str] | set[str], vendor_amd: bool = False) -> tuple[int, str]:
    """(MACs per cycle per core, the instruction it assumes) for `precision` ('fp32', 'bf16', 'int8') on a
    CPU with `flags` (/proc/cpuinfo names); AMD's Zen 4 runs 512-bit instructions at half width.
    ValueError for an unknown precision."""
    half = 2 if vendor_amd else 1
    if precision == "int8":
        if "amx_int8" in flags:
            return 1024, "AMX-INT8"
        if "avx512_vnni" in flags:
            return 128 // half, "AVX-512 VNNI"
        if "avx_vnni" in flags:
            return 64, "AVX-VNNI"
        precision = "fp32"  # no int8 dot products: int8 would be emulated, bounded like fp32
    if precision == "bf16":
        if "amx_bf16" in flags:
            return 512, "AMX-BF16"
        if "avx512_bf16" in flags:
            return 64 // half, "AVX-512 BF16"
        precision = "fp32"
    if precision != "fp32":
        raise ValueError(f"unknown precision {precision!r}")
    if "avx512f" in flags:
        return 32 // half, "AVX-512 FMA"
    if "fma" in flags or "avx2" in flags:
        return 16, "AVX2 FMA"
    return 4, "SSE"


@dataclass(frozen=True)
class Limit:
    """A network's achieved multiply-adds per second beside the CPU's peak for its precision."""

    precision: str
    achieved: float  # MAC/s
    cores: int
    mhz: float | None  # None: /proc/cpuinfo gives no clock, so no peak
    per_cycle: int  # MAC per cycle per core
    instruction: str

    @property
    def peak(self) -> float | None:
        return None if self.mhz is None else self.cores * self.mhz * 1e6 * self.per_cycle

    def share_words(self) -> str:
        """'23% of 4301 (AMX-INT8)' or 'peak unknown'."""
        if self.peak is None:
            return "peak unknown"
        return f"{100 * self.achieved / self.peak:.0f}% of {self.peak / 1e9:.0f} ({self.instruction})"

    def line(self) -> str:
        """One sentence for outputs: achieved, the peak and how it was made."""
        text = f"{self.precision}: achieved {self.achieved / 1e9:.0f} G MAC/s"
        if self.peak is None:
            return text + "; no clock in /proc/cpuinfo, so no peak"
        share = 100 * self.achieved / self.peak
        return (
            f"{text} = {share:.0f}% of the {self.precision} peak, {self.peak / 1e9:.0f} G MAC/s "
            f"({self.cores} cores x {self.mhz:.0f} MHz x {self.per_cycle} MAC/cycle {self.instruction})"
        )


def hardware_limit(precision: str, ms_per_image: float, cpu: dict | None = None) -> Limit:
    """How a network taking `ms_per_image` per 224x224 image compares with this CPU's peak for `precision`
    (`cpu`: calibration.cpu_identity(), for the usable cores; default: this machine)."""
    from simages.extraction.calibration import cpu_identity

    cpu = cpu or cpu_identity()
    per_cycle, instruction = macs_per_cycle(precision, cpu_flags(), "AMD" in cpu.get("model", ""))
    achieved = vgg16_macs() / (ms_per_image / 1000.0)
    return Limit(precision, achieved, int(cpu["cores"]), cpu_mhz(), per_cycle, instruction)


def limit_note() -> str:
    """What the peak figures rest on, printed once under them."""
    mhz = cpu_mhz()
    clock = f"{mhz:.0f} MHz" if mhz is not None else "unknown"
    return (
        f"peak = usable cores x clock x MAC per cycle of the precision's widest instruction (VGG-16: "
        f"{vgg16_macs() / 1e9:.2f} G MAC per image); clock {clock} as /proc/cpuinfo says (a VM reports the "
        "host's nominal rate: turbo or a shared package move it), so the share is an estimate"
    )
