"""Follows a project's sweep from its files for the Train screen's reader thread: re-reads every
variant only when one of its files changed (the manifest, a run record, an events file, the lock),
so an idle sweep costs one stat per file per poll. No textual."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tui_lora.core import joblock
from tui_lora.core.sweep import SweepStatus, VariantProject, sweep_status
from tui_lora.core.sweep.manifest import manifest_path, read_manifest
from tui_lora.core.sweep.status import latest_is_sweep
from tui_lora.core.train.record import record_path


@dataclass(frozen=True)
class SweepSnapshot:
    status: SweepStatus | None  # None: the project never had a sweep
    latest: bool  # the sweep is the project's latest job (the screen shows it rather than the training)


def _stamp(path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class SweepMonitor:
    def __init__(self, project) -> None:
        self.project = project
        self._seen: tuple | None = None

    def _signature(self) -> tuple:
        paths = [manifest_path(self.project), joblock.lock_path(self.project), record_path(self.project)]
        manifest = read_manifest(self.project) if _stamp(paths[0]) else None
        for v in manifest.variants if manifest else []:
            view = VariantProject.of(self.project, v.label)
            paths += [view.events_path, record_path(view)]
        return tuple(_stamp(p) for p in paths)

    def poll(self) -> SweepSnapshot | None:
        """A snapshot when the sweep changed since the last poll, else None."""
        sig = self._signature()
        if sig == self._seen:
            return None
        self._seen = sig
        status = sweep_status(self.project)
        return SweepSnapshot(status, status is not None and latest_is_sweep(self.project, status))
