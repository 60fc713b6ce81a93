"""The rolling window of spans, as a small JSON artifact each TimeSplit run reads (its predecessor's) and writes.

It lists, per span, where that span's events and examples live and when its evaluation period began. Passing it from
run to run needs only the "latest artifact" resolver, which every orchestrator runs, Kubeflow V2 and Vertex
included; the per-span artifacts it points to never change, so Transform's analyzer cache recognises them.
"""
from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf

WINDOW_FILE = "window.json"


@dataclasses.dataclass(frozen=True)
class SpanEntry:
    span: int
    events: str  # URI of the span's events (EventExampleGen)
    examples: str  # URI of the examples made when it was the newest span (TimeSplit)
    cutoff: int | None  # its evaluation period began at this timestamp (None: one dataset, per-user holdout)
    events_count: int = 0  # its usable events (EventExampleGen's EVENT_COUNT; 0 in windows written before it)


def read_window(uri: str | None) -> list[SpanEntry]:
    if uri is None:
        return []
    with tf.io.gfile.GFile(os.path.join(uri, WINDOW_FILE)) as handle:
        return [SpanEntry(**entry) for entry in json.load(handle)["spans"]]


def write_window(uri: str, entries: list[SpanEntry]) -> None:
    tf.io.gfile.makedirs(uri)
    with tf.io.gfile.GFile(os.path.join(uri, WINDOW_FILE), "w") as handle:
        json.dump({"spans": [dataclasses.asdict(entry) for entry in entries]}, handle, indent=2)


def next_window(previous: list[SpanEntry], newest: SpanEntry, num_spans: int) -> list[SpanEntry]:
    """The latest `num_spans` spans once `newest` arrives; a span read again (a new version) replaces the old."""
    kept = [entry for entry in previous if entry.span < newest.span]
    return (kept + [newest])[-num_spans:]
