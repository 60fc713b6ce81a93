"""Source datasets turned into the pipeline's two canonical frames, with every skipped row in a BadRowReport.

interactions: user_id (str), item_id (str), rating (float64: explicit rating, or implicit weight, 1.0 when the
source has none), timestamp (int64, Unix seconds); one row per event, in file order; every item_id is in the catalog.
Exact duplicate events (same user, item and timestamp) are one event: the first is kept, the others are reported
as bad rows.
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
import pyarrow as pa

from avrec.data.report import BadRowReport
from avrec.data.table import Table, read_delimited, read_parquet, strings
from avrec.errors import DataError

FORMATS = ("movielens-csv", "movielens-100k", "movielens-1m", "generic")

# The files that identify each format: one name from each group must be present.
_REQUIRED_FILES = {
    "movielens-csv": (("ratings.csv",), ("movies.csv",)),
    "movielens-100k": (("u.data",), ("u.item",)),
    "movielens-1m": (("ratings.dat",), ("movies.dat",)),
    "generic": (("interactions.csv", "interactions.parquet"), ("items.csv", "items.parquet")),
}
INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
CATALOG_COLUMNS = ("item_id", "title", "genres", "text", "image_paths", "audio_path", "frame_paths")
LIST_COLUMNS = ("genres", "image_paths", "frame_paths")
DUPLICATE_EVENT = "duplicate interaction (same user, item and timestamp as an earlier row; the first is kept)"
NO_GENRES = {"(no genres listed)", "unknown"}  # MovieLens's markers for "no genre" (ml-latest, ml-100k)
# u.item's 19 genre flags, in order, for a 100k directory without u.genre.
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")


@dataclasses.dataclass
class Dataset:
    interactions: pd.DataFrame
    catalog: pd.DataFrame
    report: BadRowReport
    format: str


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


def _repeated_events(table: Table, keys: tuple[str, ...]) -> np.ndarray:
    """True for every row whose key columns equal those of an earlier row (grouped in Arrow, not in Python)."""
    rows = pa.table({**{f"k{n}": table.columns[name] for n, name in enumerate(keys)},
                     "row": pa.array(np.arange(len(table), dtype=np.int64))})
    first = rows.group_by([f"k{n}" for n in range(len(keys))]).aggregate([("row", "min")])["row_min"]
    repeated = np.ones(len(table), dtype=bool)
    repeated[first.to_numpy()] = False
    return repeated


def _interactions(table: Table, user: str, item: str, rating: str | None, timestamp: str,
                  catalog: pd.DataFrame, users: Table | None = None) -> pd.DataFrame:
    """Checks the columns (ids, then rating, then timestamp, then the item against the catalog) and builds the frame.

    `rating` None: an implicit dataset, every event weighs 1.0. `users`: a user table the user must appear in."""
    table.ids(user)
    table.ids(item)
    if users is not None:
        table.known(user, users.columns[user], f"unknown user id (column '{user}', not in {users.source})")
    if rating is not None:
        table.numbers(rating, rating.lower())
    table.integers(timestamp, "timestamp")
    table.known(item, pa.array(catalog["item_id"].to_numpy(), pa.large_string()),
                f"unknown item id (column '{item}')")
    table.drop(_repeated_events(table, (user, item, timestamp)), DUPLICATE_EVENT)
    ratings = (table.columns[rating].to_numpy(zero_copy_only=False) if rating is not None
               else np.ones(len(table), dtype=np.float64))
    return pd.DataFrame({
        "user_id": strings(table.columns[user]),
        "item_id": strings(table.columns[item]),
        "rating": ratings.astype(np.float64),
        "timestamp": table.columns[timestamp].to_numpy(zero_copy_only=False).astype(np.int64),
    })


def _catalog(table: Table, item: str, title: str, **fields: list[str]) -> pd.DataFrame:
    """The catalog frame from checked ids and titles plus per-row `fields` (CATALOG_COLUMNS; missing ones are '')."""
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


def _movielens_csv(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    read = dict(sep=",", encoding="utf-8", quoting=True)
    movies = read_delimited(root / "movies.csv", report, **read)
    _check_catalog(movies, "movieId", "title")
    movies.require("genres")
    movies.texts("genres")
    catalog = _catalog(movies, "movieId", "title", genres=_genres(movies.columns["genres"].to_pylist()))
    if (root / "tags.csv").is_file():
        tags = read_delimited(root / "tags.csv", report, **read)
        tags.require("movieId", "tag")
        tags.ids("movieId")
        tags.texts("tag")
        tags.drop(tags.columns["tag"].to_numpy(zero_copy_only=False) == "", "empty tag (column 'tag')")
        tags.known("movieId", movies.columns["movieId"], "unknown item id (column 'movieId')")
        catalog["text"] = catalog["item_id"].map(_tag_text(tags, "movieId", "tag")).fillna("")
    ratings = read_delimited(root / "ratings.csv", report, **read)
    ratings.require("userId", "movieId", "rating", "timestamp")
    return _interactions(ratings, "userId", "movieId", "rating", "timestamp", catalog), catalog


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


def _movielens_100k(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    ratings = read_delimited(root / "u.data", report, sep="\t", encoding="latin-1",
                             names=("user id", "item id", "rating", "timestamp"))
    return _interactions(ratings, "user id", "item id", "rating", "timestamp", catalog), catalog


def _movielens_1m(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    read = dict(sep="::", encoding="latin-1")
    movies = read_delimited(root / "movies.dat", report, names=("MovieID", "Title", "Genres"), **read)
    _check_catalog(movies, "MovieID", "Title")
    movies.texts("Genres")
    catalog = _catalog(movies, "MovieID", "Title", genres=_genres(movies.columns["Genres"].to_pylist()))
    ratings = read_delimited(root / "ratings.dat", report, names=("UserID", "MovieID", "Rating", "Timestamp"), **read)
    users = None
    if (root / "users.dat").is_file():
        users = read_delimited(root / "users.dat", report,
                               names=("UserID", "Gender", "Age", "Occupation", "Zip-code"), **read)
        users.ids("UserID")
    return _interactions(ratings, "UserID", "MovieID", "Rating", "Timestamp", catalog, users), catalog


def _read_generic(path: Path, report: BadRowReport, multiline: bool) -> Table:
    if path.suffix == ".parquet":
        return read_parquet(path, report)
    return read_delimited(path, report, sep=",", encoding="utf-8", quoting=True, multiline=multiline)


def _generic(root: Path, report: BadRowReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    root = root.resolve()
    items = _read_generic(_one_of(root, "generic", ("items.csv", "items.parquet")), report, multiline=True)
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
    events = _read_generic(_one_of(root, "generic", ("interactions.csv", "interactions.parquet")), report,
                           multiline=False)
    events.require("user_id", "item_id", "timestamp")
    if events.has("rating") and events.has("weight"):
        raise DataError(f"{events.source} has both 'rating' and 'weight' columns; keep one")
    weight = next((column for column in ("rating", "weight") if events.has(column)), None)
    return _interactions(events, "user_id", "item_id", weight, "timestamp", catalog), catalog


_LOADERS = {"movielens-csv": _movielens_csv, "movielens-100k": _movielens_100k, "movielens-1m": _movielens_1m,
            "generic": _generic}


def load_dataset(path, format: str = "auto", max_bad_fraction: float = 0.01) -> Dataset:
    """Loads the dataset in directory `path`; stops with DataError if any file has too many bad rows."""
    root = _directory(path)
    if format == "auto":
        format = detect_format(root)
    elif format not in FORMATS:
        raise DataError(f"unknown dataset format {format!r}; expected auto or one of {', '.join(FORMATS)}")
    for group in _REQUIRED_FILES[format]:
        _one_of(root, format, group)
    report = BadRowReport()
    interactions, catalog = _LOADERS[format](root, report)
    report.check(max_bad_fraction)
    for name, frame in (("interactions", interactions), ("catalog", catalog)):
        if frame.empty:
            raise DataError(f"no usable {name} in {root} ({format}): the files hold none "
                            f"({report.total_bad} bad rows skipped in all)")
    return Dataset(interactions=interactions, catalog=catalog, report=report, format=format)
