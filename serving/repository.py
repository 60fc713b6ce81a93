"""The versions of one model on disk and the one being served, with TF Serving's "latest version" policy.

A poll loads the newest version directory that has not already failed to load, warms it, and only then swaps it in:
requests hold a reference to the version they started on, so a swap never fails one. A version that fails to load
(corrupt, half written) is remembered with a fingerprint of its files and retried only once they change, while the
version already being served keeps serving.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_status_pb2

from avrec import versions
from avrec.serving.protocol import not_found
from avrec.serving.servable import Servable, load_failure

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State


def _fingerprint(path: Path) -> tuple | None:
    """Names, sizes and modification times of every file under `path`: changes when anything is (re)written."""
    entries = []
    try:
        for root, _, files in os.walk(path):
            for file in files:
                stat = os.stat(os.path.join(root, file))
                entries.append((os.path.relpath(os.path.join(root, file), path), stat.st_size, stat.st_mtime_ns))
    except OSError:  # files vanishing mid-walk: the directory is still being written
        return None
    return tuple(sorted(entries))


class ModelRepository:
    """Loads and serves versions of the model at `base_path/name`."""

    def __init__(self, base_path: str | Path, name: str):
        self.name = name
        self.path = Path(base_path) / name
        self._current: Servable | None = None
        self._statuses: dict[int, get_model_status_pb2.ModelVersionStatus] = {}
        self._failed: dict[int, tuple | None] = {}
        self._reported: set[str] = set()
        self._status_lock = threading.Lock()
        self._poll_lock = threading.Lock()

    @property
    def current(self) -> Servable | None:
        return self._current

    def versions_on_disk(self) -> list[int]:
        """Version directories, newest first (TF Serving's rule: avrec.versions); anything else is reported once."""
        scan = versions.scan(self.path)
        for name in sorted(set(scan.ignored) - self._reported):
            log.warning("%s: ignoring %s, which is not a version directory (a version is a directory named by an "
                        "int64 number)", self.path, self.path / name)
        self._reported.update(scan.ignored)
        return [number for number, _ in scan.versions]

    def poll(self) -> None:
        """Serve the newest loadable version on disk, loading it first if it is not the one being served."""
        with self._poll_lock:
            current = self._current
            for version in self.versions_on_disk():
                if current is not None and version == current.version:
                    return
                fingerprint = _fingerprint(self.path / str(version))
                if version in self._failed and self._failed[version] == fingerprint:
                    continue
                if self._load(version, fingerprint):
                    return

    def _load(self, version: int, fingerprint: tuple | None) -> bool:
        self._set_status(version, State.LOADING)
        try:
            servable = Servable(self.name, version, self.path / str(version))
        except Exception as error:  # any failure to load or warm up leaves the current version serving
            self._failed[version] = fingerprint
            failure = load_failure(self.path / str(version), error)
            message = str(failure)[:2000]
            self._set_status(version, State.END, failure.code, message)
            log.warning("%s version %d failed to load, still serving %s: %s", self.name, version,
                        self._current.version if self._current else "nothing", message)
            return False
        previous, self._current = self._current, servable
        self._failed.pop(version, None)
        self._set_status(version, State.AVAILABLE)
        if previous is not None:
            self._set_status(previous.version, State.END)
        log.info("%s version %d is being served%s", self.name, version,
                 f" (replaced version {previous.version})" if previous else "")
        return True

    def _set_status(self, version: int, state: int, code: int = error_codes_pb2.OK, message: str = "") -> None:
        status = get_model_status_pb2.ModelVersionStatus(version=version, state=state)
        status.status.error_code = code
        status.status.error_message = message
        with self._status_lock:
            self._statuses[version] = status

    def servable(self, name: str, version: int | None = None) -> Servable:
        """The version a request asked for (None: the latest); only the served version can be asked for."""
        current = self._current
        if name != self.name or current is None or version not in (None, current.version):
            spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            serving = f"; this server serves model '{self.name}' " + (
                f"version {current.version}" if current else "but no version has loaded yet")
            raise not_found(f"Servable not found for request: {spec}{serving}")
        return current

    def status(self, name: str, version: int | None = None) -> get_model_status_pb2.GetModelStatusResponse:
        with self._status_lock:
            statuses = dict(self._statuses) if name == self.name else {}
        if not statuses:
            raise not_found(f"Could not find any versions of model {name}")
        if version is not None:
            if version not in statuses:
                raise not_found(f"Could not find version {version} of model {name}")
            statuses = {version: statuses[version]}
        return get_model_status_pb2.GetModelStatusResponse(
            model_version_status=[statuses[v] for v in sorted(statuses, reverse=True)])
