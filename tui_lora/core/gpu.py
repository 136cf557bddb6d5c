"""Which NVIDIA GPUs this machine has, asked of ``nvidia-smi`` (never of torch).

The wizard compares the planner's VRAM estimate with the real card, and must start in well
under a second, so it cannot import torch; ``nvidia-smi`` ships with every NVIDIA driver
and answers in a few tens of milliseconds.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

QUERY = ("name", "memory.total", "memory.used")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_total_gb: float  # GiB, as the planner's estimate is in GiB
    memory_used_gb: float | None = None


@dataclass(frozen=True)
class GpuReport:
    """The GPUs found, or why none were (``reason`` is one sentence for the user)."""

    gpus: tuple[GpuInfo, ...]
    reason: str = ""

    @property
    def largest(self) -> GpuInfo | None:
        return max(self.gpus, key=lambda g: g.memory_total_gb, default=None)


def detect_gpus(*, timeout: float = 5.0, command: str = "nvidia-smi") -> GpuReport:
    """Ask nvidia-smi for the name and memory of every GPU; never raises."""
    exe = shutil.which(command)
    if exe is None:
        return GpuReport((), "No NVIDIA GPU found (nvidia-smi is not installed on this machine).")
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={','.join(QUERY)}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GpuReport((), f"nvidia-smi did not answer ({type(exc).__name__}); check the NVIDIA driver.")
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        why = detail[0] if detail else f"exit code {out.returncode}"
        return GpuReport((), f"nvidia-smi failed ({why}); check the NVIDIA driver.")
    gpus = parse_query(out.stdout)
    if not gpus:
        return GpuReport((), "nvidia-smi lists no GPU; check that the card is visible to this machine.")
    return GpuReport(tuple(gpus))


def parse_query(text: str) -> list[GpuInfo]:
    """Parse ``--query-gpu=name,memory.total,memory.used --format=csv,noheader[,nounits]``.

    Memory comes in MiB, with or without the `` MiB`` unit; ``[N/A]`` fields read as unknown.
    """
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", len(QUERY) - 1)]  # a name may hold a comma
        if len(parts) < 2 or not parts[0]:
            continue
        total = _mib(parts[1])
        if total is None:
            continue
        used = _mib(parts[2]) if len(parts) > 2 else None
        gpus.append(GpuInfo(len(gpus), parts[0], total / 1024, None if used is None else used / 1024))
    return gpus


def _mib(text: str) -> float | None:
    text = text.strip().removesuffix("MiB").strip()
    try:
        return float(text)
    except ValueError:
        return None
