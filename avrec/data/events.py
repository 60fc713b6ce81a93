"""Interaction events: where a format keeps them, cut into chunks that workers read, and each chunk checked.

A chunk's rows are checked column by column (ids, then rating, then timestamp, then the item against the catalog)
and bad rows go to the chunk's BadRowReport with their line numbers in the whole file, so reports of all chunks merge
into the one a whole-file read gives.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from avrec.data.report import BadRowReport
from avrec.data.table import Chunk, Table, line_chunks, parquet_chunks, read_delimited, read_parquet, strings

EVENT_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
# A worker reads this much of an events file at a time: bounded memory per worker, whatever the file's size.
CHUNK_BYTES = 64 << 20


@dataclasses.dataclass(frozen=True)
class EventSource:
    """A format's events file and its columns (rating None: implicit events weighing 1.0). Delimited text has
    `delimited` read options and `first_byte`, where the rows after any header start; Parquet has neither."""

    path: Path
    user: str
    item: str
    rating: str | None
    timestamp: str
    delimited: dict | None = None
    first_byte: int = 0
    known_users: tuple[str, ...] | None = None  # ml-1m: the users of users.dat, when it is there
    users_file: str = ""

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
        if self.delimited is None:
            return parquet_chunks(self.path)
        return line_chunks(self.path, self.first_byte, chunk_bytes) or [Chunk(self.first_byte, None, 2)]

    def whole(self) -> Chunk:
        return Chunk(self.first_byte, None, 2 if self.first_byte else 1)

    def _read(self, report: BadRowReport, chunk: Chunk) -> Table:
        if self.delimited is None:
            return read_parquet(self.path, report, chunk)
        return read_delimited(self.path, report, chunk=chunk, **self.delimited)


def read_events(source: EventSource, catalog_ids: pa.Array, report: BadRowReport, chunk: Chunk) -> pd.DataFrame:
    """One chunk's events with EVENT_COLUMNS; its bad rows go to `report`."""
    table = source._read(report, chunk)
    table.require(source.user, source.item, source.timestamp, *([source.rating] if source.rating else []))
    table.ids(source.user)
    table.ids(source.item)
    if source.known_users is not None:
        table.known(source.user, pa.array(source.known_users, pa.large_string()),
                    f"unknown user id (column '{source.user}', not in {source.users_file})")
    if source.rating is not None:
        table.numbers(source.rating, source.rating.lower())
    table.integers(source.timestamp, "timestamp")
    table.known(source.item, catalog_ids, f"unknown item id (column '{source.item}')")
    ratings = (table.columns[source.rating].to_numpy(zero_copy_only=False) if source.rating is not None
               else np.ones(len(table), dtype=np.float64))
    return pd.DataFrame({
        "user_id": strings(table.columns[source.user]),
        "item_id": strings(table.columns[source.item]),
        "rating": ratings.astype(np.float64),
        "timestamp": table.columns[source.timestamp].to_numpy(zero_copy_only=False).astype(np.int64),
    })
