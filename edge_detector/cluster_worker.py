"""The worker side of a Dask run: worker-local state (a WorkerPlugin) and the task runner.

Imported only when Dask is installed (it subclasses Dask's WorkerPlugin); see :mod:`.cluster`.
The tasks themselves live with their callers (:mod:`.scan.on_cluster`, ``train.etl_cluster``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from . import atomic
from .errors import ClusterError


class WorkerState(WorkerPlugin):
    """Worker-local state built by ``make(files)`` once per worker thread, not per task.

    ``files`` (name -> bytes, e.g. the ONNX model) are written once into the worker's local folder
    and handed to ``make`` as name -> local path, so workers need no shared model folder. As a
    WorkerPlugin it also reaches workers that join or are restarted later.
    """

    def __init__(self, name: str, make: Callable[[dict[str, Path]], Any], files: dict[str, bytes],
                 probe: Path | None = None) -> None:
        self.name, self.make, self.files, self.probe = name, make, files, probe
        self._local = threading.local()
        self._spare: list[Any] = []
        self._paths: dict[str, Path] = {}

    def __getstate__(self) -> dict:
        return {k: getattr(self, k) for k in ("name", "make", "files", "probe")}

    def __setstate__(self, d: dict) -> None:
        self.__init__(**d)

    def setup(self, worker) -> None:
        """Check the inputs are visible, write the files, build the first state (errors reach the client)."""
        if self.probe is not None and not os.access(self.probe, os.R_OK):
            raise ClusterError(f"worker {worker.address} cannot read {self.probe}: every worker must "
                               "see the input folder at the same path (a shared file system)")
        folder = Path(worker.local_directory) / "edge-detect"
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{name}"
            if not path.is_file():  # workers of one machine may race here: each has its own part
                atomic.write_bytes(path, data)
            self._paths[name] = path
        self._spare.append(self.make(self._paths))

    def teardown(self, worker) -> None:
        self._spare.clear()

    def get(self) -> Any:
        state = getattr(self._local, "state", None)
        if state is None:
            try:
                state = self._spare.pop()
            except IndexError:  # another thread of a multi-threaded worker
                state = self.make(self._paths)
            self._local.state = state
        return state


def run_task(plugin_name: str, fn: Callable[[Any, Any], Any], item: Any) -> Any:
    """Runs on a worker: ``fn(this worker's state, item)``."""
    return fn(get_worker().plugins[plugin_name].get(), item)
