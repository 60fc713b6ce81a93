"""A source dataset read whole into the two canonical frames, with every skipped row in a BadRowReport.

interactions: user_id (str), item_id (str), rating (float64: explicit rating, or implicit weight, 1.0 when the
source has none), timestamp (int64, Unix seconds); one row per event, in file order; every item_id is in the catalog.
catalog: see formats.py. This is what commands that need the whole dataset in memory use (a catalog refresh, tests);
the pipeline reads the same formats in chunks on Beam (components/ingest/).
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import pyarrow as pa

from avrec.data.events import read_events
from avrec.data.formats import open_source
from avrec.data.report import BadRowReport
from avrec.errors import DataError


@dataclasses.dataclass
class Dataset:
    interactions: pd.DataFrame
    catalog: pd.DataFrame
    report: BadRowReport
    format: str


def catalog_ids(catalog: pd.DataFrame) -> pa.Array:
    return pa.array(catalog["item_id"].to_numpy(), pa.large_string())


def load_dataset(path, format: str = "auto", max_bad_fraction: float = 0.01) -> Dataset:
    """Loads the dataset in directory `path`; stops with DataError if any file has too many bad rows."""
    report = BadRowReport()
    source = open_source(path, format, report)
    interactions = read_events(source.events, catalog_ids(source.catalog), report, source.events.whole())
    report.check(max_bad_fraction)
    if interactions.empty:
        raise DataError(f"no usable interactions in {source.root} ({source.format}): the files hold none "
                        f"({report.total_bad} bad rows skipped in all)")
    return Dataset(interactions=interactions, catalog=source.catalog, report=report, format=source.format)
