"""The source formats: how to recognise each, read its catalog (small: read whole) and find its events (large:
read in chunks, see events.py).

catalog: item_id (str, unique), title (str), genres (list of str), text (free text: the description, then the tags
joined with ', ', separated by a newline; MovieLens: the movie's distinct tags, most frequent first), image_paths
(list of str), audio_path (str), frame_paths (list of str); '' or [] when absent; relative media paths resolved
against the dataset directory.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from avrec.data.events import EventSource
from avrec.data.report import BadRowReport
from avrec.data.table import Table, header_names, read_delimited, read_parquet, strings
from avrec.errors import DataError

FORMATS = ("movielens-csv", "movielens-100k", "movielens-1m", "generic")

# The files that identify each format: one name from each group must be present.
_REQUIRED_FILES = {
    "movielens-csv": (("ratings.csv",), ("movies.csv",)),
    "movielens-100k": (("u.data",), ("u.item",)),
    "movielens-1m": (("ratings.dat",), ("movies.dat",)),
    "generic": (("interactions.csv", "interactions.parquet"), ("items.csv", "items.parquet")),
}
CATALOG_COLUMNS = ("item_id", "title", "genres", "text", "image_paths", "audio_path", "frame_paths")
LIST_COLUMNS = ("genres", "image_paths", "frame_paths")
NO_GENRES = {"(no genres listed)", "unknown"}  # MovieLens's markers for "no genre" (ml-latest, ml-100k)
# u.item's 19 genre flags, in order, for a 100k directory without u.genre.
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")
_CSV = dict(sep=",", encoding="utf-8", quoting=True)


@dataclasses.dataclass(frozen=True)
class Source:
    """A dataset directory opened: its format, its catalog (read) and its events (located)."""

    root: Path
    format: str
    catalog: pd.DataFrame
    events: EventSource


def _directory(path) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"dataset directory {root} does not exist" if not root.exists()
                        else f"dataset path {root} is not a directory")
    return root


def _describe(format: str) -> str:
    return " and ".join(" or ".join(group) for group in _REQUIRED_FILES[format])


def detect_format(path) -> str:
    """The one format whose identifying files are present in the directory `path`."""
    root = _directory(path)
    present = {entry.name for entry in root.iterdir() if entry.is_file()}
    matches = [format for format, groups in _REQUIRED_FILES.items()
               if all(any(name in present for name in group) for group in groups)]
    if len(matches) > 1:
        raise DataError(f"{root} holds files of several formats ({', '.join(matches)}); pass the format explicitly")
    if not matches:
        expected = "; ".join(f"{_describe(format)} ({format})" for format in FORMATS)
        raise DataError(f"no known dataset in {root}: expected {expected}; "
                        f"found {', '.join(sorted(present)) or 'no files'}")
    return matches[0]


def _one_of(root: Path, format: str, names: tuple[str, ...]) -> Path:
    """The file of a required group; missing or ambiguous is a DataError naming the files."""
    found = [root / name for name in names if (root / name).is_file()]
    if len(found) > 1:
        raise DataError(f"{root} has both {' and '.join(names)}; keep one")
    if not found:
        raise DataError(f"{root} lacks {' or '.join(names)}, required for format {format} "
                        f"(which needs {_describe(format)})")
    return found[0]


def _list(value: str, drop=frozenset()) -> list[str]:
    """A '|'-separated source field (MovieLens genres, generic tags and media) as its non-empty, trimmed entries."""
    return [entry for entry in (part.strip() for part in value.split("|")) if entry and entry not in drop]


def _genres(values: list[str]) -> list[list[str]]:
    """Genre fields normalised: entries trimmed, empty ones and MovieLens's "no genre" markers dropped."""
    return [_list(value, NO_GENRES) for value in values]


def _media_path(entry: str, root: Path) -> str:
    """A media path with a relative one resolved against the dataset directory (URLs kept)."""
    return entry if not entry or "://" in entry else str(root / entry)


def _media(value: str, root: Path) -> list[str]:
    return [_media_path(entry, root) for entry in _list(value)]


def _catalog(table: Table, item: str, title: str, **fields: list[str]) -> pd.DataFrame:
    """The catalog frame from checked ids and titles plus per-row `fields` (CATALOG_COLUMNS; missing: empty)."""
    frame = pd.DataFrame({"item_id": strings(table.columns[item]),
                          "title": table.columns[title].to_numpy(zero_copy_only=False)})
    for column in CATALOG_COLUMNS[2:]:
        empty = [] if column in LIST_COLUMNS else ""
        frame[column] = fields.get(column, [empty] * len(frame))
    return frame.astype(object)


def _check_catalog(table: Table, item: str, title: str) -> None:
    """The checks every catalog file gets: usable, unique ids and a title column."""
    table.require(item, title)
    table.ids(item)
    table.unique(item, "item id")
    table.texts(title)


def _tag_text(tags: Table, item: str, tag: str) -> dict[str, str]:
    """Each item's distinct tags, most frequent first (ties: first seen), joined with ', '."""
    frame = pd.DataFrame({"item": strings(tags.columns[item]), "tag": tags.columns[tag].to_numpy(zero_copy_only=False)})
    counted = (frame.reset_index().groupby(["item", "tag"], sort=False)["index"].agg(["size", "min"]).reset_index()
               .sort_values(["item", "size", "min"], ascending=[True, False, True]))
    return counted.groupby("item", sort=False)["tag"].agg(", ".join).to_dict()


def _require_columns(path: Path, names: tuple[str, ...], required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in names]
    if missing:
        raise DataError(f"{path.name} lacks required column(s) {', '.join(map(repr, missing))} "
                        f"(found: {', '.join(map(repr, names)) or 'none'})")


def _with_header(path: Path, required: tuple[str, ...], **read) -> tuple[dict, int]:
    """Read options naming a delimited file's header columns, and where its rows start; missing columns named."""
    names, first_byte = header_names(path, **read)
    _require_columns(path, names, required)
    return {**read, "names": names}, first_byte


def _movielens_csv(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, EventSource]:
    movies = read_delimited(root / "movies.csv", report, **_CSV)
    _check_catalog(movies, "movieId", "title")
    movies.require("genres")
    movies.texts("genres")
    catalog = _catalog(movies, "movieId", "title", genres=_genres(movies.columns["genres"].to_pylist()))
    if (root / "tags.csv").is_file():
        tags = read_delimited(root / "tags.csv", report, **_CSV)
        tags.require("movieId", "tag")
        tags.ids("movieId")
        tags.texts("tag")
        tags.drop(tags.columns["tag"].to_numpy(zero_copy_only=False) == "", "empty tag (column 'tag')")
        tags.known("movieId", movies.columns["movieId"], "unknown item id (column 'movieId')")
        catalog["text"] = catalog["item_id"].map(_tag_text(tags, "movieId", "tag")).fillna("")
    columns = ("userId", "movieId", "rating", "timestamp")
    read, first_byte = _with_header(root / "ratings.csv", columns, **_CSV)
    return catalog, EventSource(root / "ratings.csv", *columns, delimited=read, first_byte=first_byte)


def _ml100k_genres(root: Path, report: BadRowReport) -> tuple[str, ...]:
    """Genre names by flag position, from u.genre (name|index) when present."""
    path = root / "u.genre"
    if not path.is_file():
        return ML100K_GENRES
    genres = read_delimited(path, report, sep="|", encoding="latin-1", names=("genre", "index"))
    genres.texts("genre")
    genres.integers("index", "genre index")
    index = genres.columns["index"].to_numpy(zero_copy_only=False)
    if not len(index) or sorted(index.tolist()) != list(range(len(index))):
        raise DataError(f"u.genre must number its genres 0..n-1 once each, found indices {sorted(index.tolist())}")
    return tuple(np.asarray(genres.columns["genre"].to_pylist(), dtype=object)[np.argsort(index)])


def _movielens_100k(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, EventSource]:
    genres = _ml100k_genres(root, report)
    names = ("movie id", "movie title", "release date", "video release date", "IMDb URL") + genres
    items = read_delimited(root / "u.item", report, sep="|", encoding="latin-1", names=names)
    _check_catalog(items, "movie id", "movie title")
    for genre in genres:
        flags = items.columns[genre].to_numpy(zero_copy_only=False)
        items.drop((flags != "0") & (flags != "1"), f"genre flag not 0 or 1 (column '{genre}')")
    flags = np.column_stack([items.columns[genre].to_numpy(zero_copy_only=False) == "1" for genre in genres])
    genre_names = np.array(genres, dtype=object)
    named = np.array([genre not in NO_GENRES for genre in genres])
    catalog = _catalog(items, "movie id", "movie title",
                       genres=[genre_names[row & named].tolist() for row in flags])
    columns = ("user id", "item id", "rating", "timestamp")
    return catalog, EventSource(root / "u.data", *columns, delimited=dict(sep="\t", encoding="latin-1",
                                                                           names=columns))


def _movielens_1m(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, EventSource]:
    read = dict(sep="::", encoding="latin-1")
    movies = read_delimited(root / "movies.dat", report, names=("MovieID", "Title", "Genres"), **read)
    _check_catalog(movies, "MovieID", "Title")
    movies.texts("Genres")
    catalog = _catalog(movies, "MovieID", "Title", genres=_genres(movies.columns["Genres"].to_pylist()))
    known_users = None
    if (root / "users.dat").is_file():
        users = read_delimited(root / "users.dat", report,
                               names=("UserID", "Gender", "Age", "Occupation", "Zip-code"), **read)
        users.ids("UserID")
        known_users = tuple(users.columns["UserID"].to_pylist())
    columns = ("UserID", "MovieID", "Rating", "Timestamp")
    return catalog, EventSource(root / "ratings.dat", *columns, delimited={**read, "names": columns},
                                known_users=known_users, users_file="users.dat")


def _generic(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, EventSource]:
    root = root.resolve()
    path = _one_of(root, "generic", ("items.csv", "items.parquet"))
    items = read_parquet(path, report) if path.suffix == ".parquet" else read_delimited(path, report, **_CSV,
                                                                                        multiline=True)
    _check_catalog(items, "item_id", "title")
    optional = ("description", "tags", "genres", "image_paths", "audio_path", "frame_paths")
    values = {}
    for column in optional:
        if items.has(column):
            items.texts(column)
        values[column] = items.columns[column].to_pylist() if items.has(column) else [""] * len(items)
    text = ["\n".join(part for part in (description, ", ".join(_list(tags))) if part)
            for description, tags in zip(values["description"], values["tags"])]
    catalog = _catalog(items, "item_id", "title",
                       genres=_genres(values["genres"]),
                       text=text,
                       image_paths=[_media(value, root) for value in values["image_paths"]],
                       audio_path=[_media_path(value, root) for value in values["audio_path"]],
                       frame_paths=[_media(value, root) for value in values["frame_paths"]])
    path = _one_of(root, "generic", ("interactions.csv", "interactions.parquet"))
    required = ("user_id", "item_id", "timestamp")
    if path.suffix == ".parquet":
        names, read, first_byte = tuple(pq.read_schema(path).names), None, 0
        _require_columns(path, names, required)
    else:
        read, first_byte = _with_header(path, required, **_CSV)
        names = read["names"]
    if "rating" in names and "weight" in names:
        raise DataError(f"{path.name} has both 'rating' and 'weight' columns; keep one")
    weight = next((column for column in ("rating", "weight") if column in names), None)
    return catalog, EventSource(path, "user_id", "item_id", weight, "timestamp", delimited=read,
                                first_byte=first_byte)


_OPENERS = {"movielens-csv": _movielens_csv, "movielens-100k": _movielens_100k, "movielens-1m": _movielens_1m,
            "generic": _generic}


def open_source(path, format: str, report: BadRowReport) -> Source:
    """Recognises the dataset in directory `path` (format "auto" or one of FORMATS), reads its catalog into a frame
    and locates its events; the catalog files' bad rows go to `report`."""
    root = _directory(path)
    if format == "auto":
        format = detect_format(root)
    elif format not in FORMATS:
        raise DataError(f"unknown dataset format {format!r}; expected auto or one of {', '.join(FORMATS)}")
    for group in _REQUIRED_FILES[format]:
        _one_of(root, format, group)
    catalog, events = _OPENERS[format](root, report)
    if catalog.empty:
        raise DataError(f"no usable catalog in {root} ({format}): the files hold none "
                        f"({report.total_bad} bad rows skipped in all)")
    return Source(root, format, catalog, events)
