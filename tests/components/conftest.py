"""The media fixture and two embedding runs on one cache, shared by the content tests."""
import logging

import pytest

from avrec.components.content.embed import embed_catalog
from tests.support.media import catalog_frame, catalog_rows, write_media


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    return write_media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def runs(encoders, media, tmp_path_factory):
    """Two runs on one cache: the first fills it, the second must reuse everything; with their logs."""
    cache = str(tmp_path_factory.mktemp("cache"))
    logger = logging.getLogger("avrec.components.content")
    records, level = [], logger.level
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    three_frames = encoders.replace(frames_per_video=3)
    try:
        first = embed_catalog(catalog_frame(catalog_rows(media)), three_frames, cache)
        second = embed_catalog(catalog_frame(catalog_rows(media)), three_frames, cache)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return {"first": first, "second": second, "cache": cache, "encoders": three_frames,
            "log": [r.getMessage() for r in records]}
