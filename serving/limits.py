"""Bounds on what one request may cost and on how many run at once (ServingConfig's max_* fields), shared by the
REST and gRPC front ends.

A tensor's shape is checked against the limits before the tensor is built, so an oversized request is refused
without the memory it would take. Admitted requests run on one pool of worker threads, at most `max_in_flight` at
once (REST and gRPC together; beyond, UNAVAILABLE at once rather than an unbounded queue) and each answered within
`request_timeout_seconds`. After a large request the memory it freed is handed back to the operating system:
glibc keeps freed heap pages in its arenas, where they would stay in the server's RSS.
"""
from __future__ import annotations

import ctypes
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Sequence

import grpc

from avrec.config import ServingConfig
from avrec.serving.protocol import ServingError, invalid

# A request at least this large (body bytes or input values) hands freed memory back to the OS once answered.
LARGE_REQUEST = 1 << 16


def check_shape(what: str, shape: Sequence[int], declared, config: ServingConfig, rows: int | None = None) -> None:
    """Refuse a tensor over the limits before it is built. Dimension 0 is the batch; the dimensions its signature
    leaves open (`declared`, a tf.TensorShape) are lists, such as a history; its values are counted. Dimensions the
    signature fixes (an embedding's width) are the model's to bound, not the request's. `rows`: `shape` is one
    instance of a row-format request of that many instances, so it lacks the batch dimension."""
    batched = rows is None
    batch = shape[0] if batched and shape else rows
    if batch is not None and batch > config.max_batch:
        count = f"{what} has a batch of {batch} (dimension 0)" if batched else f"'instances' has {batch} instances"
        raise invalid(f"{count}; this server answers at most {config.max_batch} per request (--max-batch)")
    dims = None if declared.rank is None else declared.as_list()
    first = 1 if batched else 0
    for axis in range(first, len(shape)):
        position = axis + 1 - first  # the dimension in the batched tensor
        open_ = dims is None or position >= len(dims) or dims[position] is None
        if open_ and shape[axis] > config.max_list_length:
            where = f" in dimension {axis}" if axis else ""
            raise invalid(f"{what} has {shape[axis]} elements{where}; this server takes lists of at most "
                          f"{config.max_list_length} (--max-list-length)")
    values = math.prod(shape)
    if values * (rows or 1) > config.max_tensor_elements:
        total = "" if batched else f", {values * rows} in all {rows} instances"
        raise invalid(f"{what} has {values} values{total}; this server takes at most {config.max_tensor_elements} "
                      "per input (--max-tensor-elements)")


def _glibc_malloc_trim():
    """glibc's malloc_trim, or None where the C library is another one (nothing to hand back then)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


_TRIM = _glibc_malloc_trim()


def release_memory() -> None:
    """Hand the heap pages freed by a large request back to the OS (glibc's malloc_trim)."""
    if _TRIM is not None:
        _TRIM(0)


class Slot:
    """One admitted request's place among the `max_in_flight`; released once, when its work ends."""

    def __init__(self, runner: "RequestRunner"):
        self._runner = runner
        self._held = True

    def release(self, *_) -> None:
        with self._runner._lock:
            if self._held:
                self._held = False
                self._runner._in_flight -= 1


class RequestRunner:
    """The worker threads every request's work runs on, behind the in-flight limit."""

    def __init__(self, config: ServingConfig):
        self.config = config
        self.timeout = config.request_timeout_seconds
        self._executor = ThreadPoolExecutor(config.workers, thread_name_prefix="avrec-predict")
        self._lock = threading.Lock()
        self._in_flight = 0

    def admit(self) -> Slot:
        """A place for one more request, or UNAVAILABLE (HTTP 503) when `max_in_flight` are already running."""
        with self._lock:
            if self._in_flight >= self.config.max_in_flight:
                raise ServingError(grpc.StatusCode.UNAVAILABLE,
                                   f"server busy: {self._in_flight} requests in flight, the most it takes at once "
                                   "(--max-in-flight); retry later")
            self._in_flight += 1
        return Slot(self)

    def submit(self, slot: Slot, large: bool, work, *args) -> Future:
        """Run `work(*args)` on a worker; the slot is released when it ends (or is cancelled before it starts)."""
        future = self._executor.submit(self._run, large, work, *args)
        future.add_done_callback(slot.release)
        return future

    @staticmethod
    def _run(large: bool, work, *args):
        try:
            return work(*args)
        finally:
            if large:
                release_memory()

    def timed_out(self, seconds: float) -> ServingError:
        """DEADLINE_EXCEEDED (HTTP 504) after `seconds`: the request timeout, or a gRPC client's shorter deadline."""
        reason = "--request-timeout-seconds" if seconds == self.timeout else "the client's deadline"
        return ServingError(grpc.StatusCode.DEADLINE_EXCEEDED,
                            f"the request was not answered within {seconds:g} s ({reason})")

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
