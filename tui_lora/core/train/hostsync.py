"""Fewer host syncs: a step queues its GPU work and returns without waiting for it.

Reading a CUDA tensor on the host (``.item()``, ``float()``, ``.tolist()``) and copying pageable host
memory to the GPU without ``non_blocking`` both wait until the GPU has run everything queued before.
Done every step, that leaves the GPU idle while Python prepares the next step. So:

- :class:`PendingLosses` keeps each step's loss on the device with the step's facts (step, epoch, lr,
  speed) and reads them all at once with one sync, at most every :data:`READ_SECONDS` on CUDA (every
  step on the CPU, where a read costs nothing) and whenever an event needs them (an epoch's end, a
  save, a stop, the end). Every step still gets its ``step`` event with its own loss; events are at
  most about a second late.
- :func:`to_device` copies host tensors with ``non_blocking`` (pinned memory makes the copy truly
  asynchronous: :func:`pin`), and :func:`take_rows` picks batch rows by slicing rather than with an
  index list (which is a host-to-device copy of its own).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

READ_SECONDS = 1.0  # on CUDA: losses are read (and step events written) about once a second


def read_seconds(device_type: str, processes: int) -> float:
    """How long losses may wait on the device. Under several processes every step: each must read
    (and check for NaN) at the same steps, and their per-step gradient sync waits anyway."""
    return READ_SECONDS if device_type == "cuda" and processes == 1 else 0.0


@dataclass(frozen=True)
class StepFacts:
    """What a step event says besides the loss, taken when the step was queued."""

    step: int
    epoch: int
    lr: float
    it_per_s: float | None
    eta_s: float | None


class PendingLosses:
    """Losses of queued steps, still on the device, read in one sync when :meth:`due` or asked."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: list[tuple[StepFacts, Any]] = []
        self._last_read = time.monotonic()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, facts: StepFacts, loss: torch.Tensor) -> None:
        self._items.append((facts, loss.detach()))

    def due(self) -> bool:
        """Time to read: always when reading every step (even with nothing pending, so that every
        process checks at the same steps), else when losses waited :attr:`seconds`."""
        if self.seconds <= 0:
            return True
        return bool(self._items) and time.monotonic() - self._last_read >= self.seconds

    def read(self) -> list[tuple[StepFacts, float]]:
        """Every pending (facts, loss), oldest first; one host sync for all of them."""
        self._last_read = time.monotonic()
        if not self._items:
            return []
        import torch

        items, self._items = self._items, []
        values = torch.stack([loss.float().reshape(()) for _, loss in items]).tolist()
        return [(facts, float(v)) for (facts, _), v in zip(items, values)]


def first_bad(values: Sequence[float]) -> int | None:
    """Index of the first NaN or infinite value, or None."""
    return next((i for i, v in enumerate(values) if not math.isfinite(v)), None)


def to_device(tensors: Sequence[torch.Tensor], device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``torch.stack(tensors)`` on ``device``: each host tensor is copied without waiting for the GPU."""
    import torch

    return torch.stack([t.to(device, dtype, non_blocking=True) for t in tensors])


def pin(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor in page-locked host memory, so copies to the GPU run asynchronously."""
    return tensor.pin_memory() if tensor.device.type == "cpu" else tensor


def take_rows(tensor: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
    """``tensor[rows]``, as a slice when the rows are evenly spaced (they are: one process's share of
    a global batch), so no index tensor is copied to the device."""
    n = len(rows)
    if n == 0:
        return tensor[:0]
    step = rows[1] - rows[0] if n > 1 else 1
    if step > 0 and all(rows[i] == rows[0] + i * step for i in range(n)):
        if rows[0] == 0 and step == 1 and n == tensor.shape[0]:
            return tensor
        return tensor[rows[0]:rows[0] + (n - 1) * step + 1:step]
    return tensor[list(rows)]
