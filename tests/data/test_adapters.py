"""Source adapters and bad-row reporting: exact parsing of each format's fixture, every bad-row kind reported with its
reason and line, the bad-fraction threshold, format detection, and the embedded ml-latest-small."""
import codecs
import collections
import csv
import json
from pathlib import Path

import pandas as pd
import pytest

import avrec  # noqa: F401  (before anything imports TensorFlow)
from avrec.config import EMBEDDED_DATASETS
from avrec.data.adapters import Dataset, catalog_ids, load_dataset
from avrec.data.events import read_events
from avrec.data.formats import FORMATS, LIST_COLUMNS, detect_format, open_source
from avrec.data.report import BadRowReport
from avrec.errors import DataError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "data"
ML_SMALL = EMBEDDED_DATASETS["ml-latest-small"]
INTERACTION_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
CATALOG_COLUMNS = ["item_id", "title", "genres", "text", "image_paths", "audio_path", "frame_paths"]


def _load_fixture(format: str) -> Dataset:
    return load_dataset(FIXTURES / format, max_bad_fraction=1.0)


def _rows(frame: pd.DataFrame, columns) -> list[tuple]:
    return list(frame[columns].itertuples(index=False, name=None))


def _bad(report: BadRowReport, source: str) -> dict[str, tuple[int, list[int]]]:
    """reason -> (count, example lines) for one file."""
    reasons = report.to_dict()["files"][source]["reasons"]
    return {reason: (entry["count"], [example["line"] for example in entry["examples"]])
            for reason, entry in reasons.items()}


def _rows_read(report: BadRowReport, source: str) -> int:
    return report.to_dict()["files"][source]["rows"]


def _assert_canonical(dataset: Dataset) -> None:
    assert list(dataset.interactions.columns) == INTERACTION_COLUMNS
    assert list(dataset.catalog.columns) == CATALOG_COLUMNS
    assert dataset.interactions["rating"].dtype == "float64"
    assert dataset.interactions["timestamp"].dtype == "int64"
    for column in ("user_id", "item_id"):
        assert all(type(value) is str for value in dataset.interactions[column])
    for column in CATALOG_COLUMNS:
        kind = list if column in LIST_COLUMNS else str
        assert all(type(value) is kind for value in dataset.catalog[column])
    for column in LIST_COLUMNS:
        assert all(type(entry) is str and entry for value in dataset.catalog[column] for entry in value)
    assert dataset.catalog["item_id"].is_unique
    assert set(dataset.interactions["item_id"]) <= set(dataset.catalog["item_id"])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _ml_csv(root: Path, ratings: str) -> Path:
    _write(root / "movies.csv", "movieId,title,genres\n1,A (2000),Drama\n2,B (2001),Comedy\n")
    _write(root / "ratings.csv", ratings)
    return root


# ---- movielens-csv ---------------------------------------------------------------------------------------------

def test_movielens_csv_fixture_values():
    dataset = _load_fixture("movielens-csv")
    _assert_canonical(dataset)
    assert dataset.format == "movielens-csv"
    # An id may contain '|': lists are lists downstream, never '|'-joined strings.
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [
        ("1", "1", 4.0, 964982703), ("1", "2", 3.5, 964981247), ("a|b", "1", 3.0, 964982931),
        ("3", "4", 0.5, 964990000), ("4", "7", 5.0, 1000000000)]
    assert _rows(dataset.catalog, ["item_id", "title", "genres", "text"]) == [
        ("1", "Toy Story (1995)", ["Adventure", "Animation", "Children", "Comedy", "Fantasy"], "pixar, fun"),
        ("2", "American President, The (1995)", ["Comedy", "Drama", "Romance"], "president, politics"),
        ("3", "Grumpier Old Men (1995)", [], ""),
        ("4", "Amélie (2001)", ["Comedy", "Romance"], "paris, france"),
        ("7", 'Quoted "Nickname" (2003)', ["Comedy"], ""),
    ]
    assert set(dataset.catalog["audio_path"]) == {""}
    assert dataset.catalog["image_paths"].tolist() == dataset.catalog["frame_paths"].tolist() == [[]] * 5


def test_movielens_csv_fixture_reports_every_bad_row_with_reason_and_line():
    report = _load_fixture("movielens-csv").report
    assert _bad(report, "ratings.csv") == {
        "invalid UTF-8 (bad encoding)": (1, [11]),
        "wrong column count (expected 4: userId, movieId, rating, timestamp)": (1, [10]),
        "empty id (column 'userId')": (1, [8]),
        "non-numeric rating (column 'rating')": (1, [4]),
        "missing timestamp (column 'timestamp')": (1, [5]),
        "non-integer timestamp (column 'timestamp')": (1, [6]),
        "unknown item id (column 'movieId')": (1, [7]),
    }
    assert _bad(report, "movies.csv") == {
        "duplicate item id (column 'movieId')": (1, [6]),
        "wrong column count (expected 3: movieId, title, genres)": (1, [7]),
        "broken quoting (unterminated or stray '\"')": (1, [8]),
    }
    assert _bad(report, "tags.csv") == {
        "unknown item id (column 'movieId')": (1, [7]),
        "empty tag (column 'tag')": (1, [8]),
    }
    # The blank line 12 is not a row; the bad-encoding line 11 is, and the rows after it survive.
    assert (_rows_read(report, "ratings.csv"), _rows_read(report, "movies.csv"), _rows_read(report, "tags.csv")) \
        == (12, 8, 9)
    assert report.total_bad == 12
    examples = report.to_dict()["files"]["ratings.csv"]["reasons"]["non-numeric rating (column 'rating')"]["examples"]
    assert examples == [{"line": 4, "text": "2,1,five,964982224"}]
    assert "\ufffd" in report.to_dict()["files"]["ratings.csv"]["reasons"]["invalid UTF-8 (bad encoding)"][
        "examples"][0]["text"]


def test_crlf_line_endings_and_utf8_bom_are_read_like_plain_lines(tmp_path):
    _write(tmp_path / "movies.csv", "movieId,title,genres\r\n1,\"Café, Le (2000)\",Drama\r\n")
    (tmp_path / "ratings.csv").write_bytes(codecs.BOM_UTF8 + b"userId,movieId,rating,timestamp\r\n1,1,4.5,10\r\n")
    dataset = load_dataset(tmp_path)
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [("1", "1", 4.5, 10)]
    assert _rows(dataset.catalog, ["item_id", "title", "genres"]) == [("1", "Café, Le (2000)", ["Drama"])]
    assert dataset.report.total_bad == 0


def test_missing_required_column_is_named(tmp_path):
    _ml_csv(tmp_path, "userId,movieId,score,timestamp\n1,1,4,10\n")
    with pytest.raises(DataError, match=r"ratings\.csv lacks required column\(s\) 'rating'"):
        load_dataset(tmp_path)


def test_header_only_ratings_is_an_error_not_an_empty_dataset(tmp_path):
    _ml_csv(tmp_path, "userId,movieId,rating,timestamp\n")
    with pytest.raises(DataError, match="no usable interactions"):
        load_dataset(tmp_path)


# ---- movielens-100k / 1m -----------------------------------------------------------------------------------------

def test_movielens_100k_fixture_values_and_bad_rows():
    assert b"Cit\xe9 des enfants" in (FIXTURES / "movielens-100k" / "u.item").read_bytes()  # latin-1 on disk
    dataset = _load_fixture("movielens-100k")
    _assert_canonical(dataset)
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [
        ("196", "1", 3.0, 881250949), ("186", "2", 3.0, 891717742), ("22", "3", 1.0, 878887116),
        ("244", "4", 2.0, 880606923)]
    assert _rows(dataset.catalog, ["item_id", "title", "genres", "text"]) == [
        ("1", "Toy Story (1995)", ["Animation", "Children's", "Comedy"], ""),
        ("2", "GoldenEye (1995)", ["Action", "Adventure", "Thriller"], ""),
        ("3", "Cité des enfants perdus, La (1995)", ["Adventure", "Sci-Fi"], ""),
        ("4", "unknown", [], ""),  # only the 'unknown' genre flag: no genres
    ]
    assert _bad(dataset.report, "u.item") == {
        "wrong column count (expected 24)": (1, [6]),
        "genre flag not 0 or 1 (column 'Drama')": (1, [5]),
    }
    assert _bad(dataset.report, "u.data") == {
        "wrong column count (expected 4: user id, item id, rating, timestamp)": (1, [7]),
        "non-numeric rating (column 'rating')": (1, [6]),
        "non-integer timestamp (column 'timestamp')": (1, [8]),
        "unknown item id (column 'item id')": (1, [5]),
    }
    assert _rows_read(dataset.report, "u.genre") == 19


def test_movielens_100k_genre_names_come_from_u_genre(tmp_path):
    (tmp_path / "u.genre").write_bytes(b"none|0\nFilm\xe9|1\n")
    (tmp_path / "u.item").write_bytes(b"7|Seven (1995)|||url|0|1\n8|Eight (1995)|||url|1|0\n")
    (tmp_path / "u.data").write_bytes(b"1\t7\t4\t100\n")
    dataset = load_dataset(tmp_path)
    assert _rows(dataset.catalog, ["item_id", "genres"]) == [("7", ["Filmé"]), ("8", ["none"])]


def test_movielens_1m_fixture_values_and_bad_rows():
    assert b"Mis\xe9rables" in (FIXTURES / "movielens-1m" / "movies.dat").read_bytes()
    dataset = _load_fixture("movielens-1m")
    _assert_canonical(dataset)
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [
        ("1", "1", 5.0, 978300760), ("1", "3", 3.0, 978302109), ("2", "2", 4.0, 978301968),
        ("2", "1", 4.5, 978824291)]
    assert _rows(dataset.catalog, ["item_id", "title", "genres"]) == [
        ("1", "Toy Story (1995)", ["Animation", "Children's", "Comedy"]),
        ("2", "Jumanji (1995)", ["Adventure", "Children's", "Fantasy"]),
        ("3", "Misérables, Les (1995)", ["Drama", "Musical"]),
    ]
    assert _bad(dataset.report, "movies.dat") == {"wrong column count (expected 3: MovieID, Title, Genres)": (1, [4])}
    assert _bad(dataset.report, "ratings.dat") == {
        "wrong column count (expected 4: UserID, MovieID, Rating, Timestamp)": (1, [7]),
        "unknown user id (column 'UserID', not in users.dat)": (1, [4]),
        "unknown item id (column 'MovieID')": (1, [6]),
    }


def test_movielens_1m_without_users_dat_keeps_every_user(tmp_path):
    for name in ("movies.dat", "ratings.dat"):
        (tmp_path / name).write_bytes((FIXTURES / "movielens-1m" / name).read_bytes())
    dataset = load_dataset(tmp_path, max_bad_fraction=1.0)
    assert ("3", "1", 4.0, 978300275) in _rows(dataset.interactions, INTERACTION_COLUMNS)


# ---- generic -----------------------------------------------------------------------------------------------------

def test_generic_csv_fixture_values_media_paths_and_bad_rows():
    root = (FIXTURES / "generic").resolve()
    dataset = _load_fixture("generic")
    _assert_canonical(dataset)
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [
        ("u1", "v1", 1.0, 1700000000), ("u1", "v2", 0.5, 1700000100), ("u3", "v1", 2.0, 1700000400)]
    assert _rows(dataset.catalog, CATALOG_COLUMNS) == [
        ("v1", "Intro video", ["Education"], "A short intro, with commas\ntutorial, intro", [str(root / "img/v1.jpg")],
         str(root / "audio/v1.wav"), [str(root / "frames/v1_0.jpg"), str(root / "frames/v1_1.jpg")]),
        # A quoted description spanning two lines is one record.
        ("v2", "Cooking show", ["Food", "Lifestyle"], "Line one\nline two\ncooking",
         ["/abs/v2.png", "http://example.com/v2.png"], "", []),
        ("v3", "Silent clip", [], "", [], "", []),
        ("v|4", "Bad id", [], "", [], "", []),  # a "|" in an id is fine: lists are lists
    ]
    assert _bad(dataset.report, "items.csv") == {}
    assert _bad(dataset.report, "interactions.csv") == {
        "non-numeric weight (column 'weight')": (1, [4]),
        "unknown item id (column 'item_id')": (1, [5]),
    }


def test_generic_stray_quote_is_one_bad_row_and_does_not_swallow_the_lines_after_it(tmp_path):
    _write(tmp_path / "items.csv", 'item_id,title\na,"Stray quote\nb,Bee\nc,"Sea"\n')
    _write(tmp_path / "interactions.csv", "user_id,item_id,timestamp\nu,b,5\nu,c,6\n")
    dataset = load_dataset(tmp_path, max_bad_fraction=1.0)
    assert _rows(dataset.catalog, ["item_id", "title"]) == [("b", "Bee"), ("c", "Sea")]
    assert _bad(dataset.report, "items.csv") == {"broken quoting (unterminated or stray '\"')": (1, [2])}
    # No rating or weight column: implicit events weigh 1.0.
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [("u", "b", 1.0, 5), ("u", "c", 1.0, 6)]


def test_generic_parquet_typed_columns(tmp_path):
    pd.DataFrame({"item_id": [10, 20, 30], "title": ["Ten", "Twenty", None],
                  "description": ["About ten", None, ""], "tags": ["x|y", None, "z"]}).to_parquet(
        tmp_path / "items.parquet")
    pd.DataFrame({
        "user_id": [1, 2, 3, 4, 5],
        "item_id": [10, 20, 30, 99, 30],
        "rating": [1.5, float("nan"), 3.0, 4.0, 2.0],
        "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02", None, "2020-01-03", "2020-01-04 00:00:01"]),
    }).to_parquet(tmp_path / "interactions.parquet")
    dataset = load_dataset(tmp_path, max_bad_fraction=1.0)
    _assert_canonical(dataset)
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [("1", "10", 1.5, 1577836800),
                                                                 ("5", "30", 2.0, 1578096001)]
    assert _rows(dataset.catalog, ["item_id", "title", "text"]) == [
        ("10", "Ten", "About ten\nx, y"), ("20", "Twenty", ""), ("30", "", "z")]
    assert _bad(dataset.report, "interactions.parquet") == {
        "non-finite rating (column 'rating')": (1, [2]),
        "missing timestamp (column 'timestamp')": (1, [3]),
        "unknown item id (column 'item_id')": (1, [4]),
    }


@pytest.mark.parametrize("value", ["1e999", "-1e400", "inf", "nan"])
def test_non_finite_ratings_are_bad_rows(tmp_path, value):
    _ml_csv(tmp_path, f"userId,movieId,rating,timestamp\n1,1,4,10\n1,2,{value},11\n")
    dataset = load_dataset(tmp_path, max_bad_fraction=1.0)
    assert _rows(dataset.interactions, INTERACTION_COLUMNS) == [("1", "1", 4.0, 10)]
    reason = "non-finite rating (column 'rating')" if "e" in value else "non-numeric rating (column 'rating')"
    assert _bad(dataset.report, "ratings.csv") == {reason: (1, [3])}


def test_generic_with_both_rating_and_weight_is_ambiguous(tmp_path):
    _write(tmp_path / "items.csv", "item_id,title\na,A\n")
    _write(tmp_path / "interactions.csv", "user_id,item_id,rating,weight,timestamp\nu,a,1,1,5\n")
    with pytest.raises(DataError, match="both 'rating' and 'weight'"):
        load_dataset(tmp_path)


# ---- chunks ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", FORMATS)
def test_reading_events_in_small_chunks_gives_the_whole_read(format):
    """What the pipeline's workers read chunk by chunk equals a whole-file read: rows, line numbers, bad rows."""
    whole = _load_fixture(format)
    report = BadRowReport()
    source = open_source(FIXTURES / format, "auto", report)
    chunks = source.events.chunks(chunk_bytes=40)
    assert len(chunks) > 1 or source.events.delimited is None
    frames = [read_events(source.events, catalog_ids(source.catalog), report, chunk) for chunk in chunks]
    assert _rows(pd.concat(frames), INTERACTION_COLUMNS) == _rows(whole.interactions, INTERACTION_COLUMNS)
    assert report.to_dict() == whole.report.to_dict()


def test_bad_row_reports_merge_like_one_read():
    parts = [BadRowReport(), BadRowReport()]
    for n, part in enumerate(parts):
        part.count_rows("r.csv", 10)
        for line in (9 - n, 4 - n, 20 + n):
            part.add("r.csv", line, "empty id (column 'userId')", f"row {line}")
    merged = BadRowReport.merged(parts)
    entry = merged.to_dict()["files"]["r.csv"]
    assert entry["rows"] == 20 and entry["bad"] == 6
    assert [example["line"] for example in entry["reasons"]["empty id (column 'userId')"]["examples"]] == [3, 4, 8]


# ---- threshold ---------------------------------------------------------------------------------------------------

def test_bad_rows_below_threshold_are_reported_and_good_rows_kept(tmp_path):
    lines = [f"{user},1,{user % 5 + 0.5},{1000 + user}" for user in range(1, 200)] + ["7,1,oops,5"]
    dataset = load_dataset(_ml_csv(tmp_path, "userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n"))
    assert len(dataset.interactions) == 199
    assert _rows(dataset.interactions, INTERACTION_COLUMNS)[:2] == [("1", "1", 1.5, 1001), ("2", "1", 2.5, 1002)]
    assert _bad(dataset.report, "ratings.csv") == {"non-numeric rating (column 'rating')": (1, [201])}
    assert "non-numeric rating (column 'rating'): 1" in dataset.report.summary()


def test_rating_column_of_strings_stops_the_load_naming_file_and_column(tmp_path):
    _ml_csv(tmp_path, "userId,movieId,rating,timestamp\n1,1,good,10\n1,2,bad,11\n2,1,ok,12\n")
    with pytest.raises(DataError) as error:
        load_dataset(tmp_path)
    message = str(error.value)
    assert "ratings.csv" in message and "column 'rating'" in message
    assert "3 of 3 rows" in message and "line 2: '1,1,good,10'" in message


def test_threshold_is_per_file_and_inclusive():
    report = BadRowReport()
    report.count_rows("a.csv", 4)
    report.add("a.csv", 3, "non-numeric rating (column 'rating')", "1,1,x,5")
    report.count_rows("b.csv", 100)
    report.check(0.25)  # exactly at the threshold: fine
    with pytest.raises(DataError, match=r"a\.csv: 1 of 4 rows bad") as error:
        report.check(0.2)
    assert "b.csv" not in str(error.value)


# ---- report ------------------------------------------------------------------------------------------------------

def test_report_counts_all_keeps_three_examples_and_truncates_text():
    report = BadRowReport()
    report.count_rows("r.csv", 10)
    for line in range(2, 7):
        report.add("r.csv", line, "empty id (column 'userId')", "x" * 500 if line == 2 else f"row {line}")
    assert report.total_bad == 5
    entry = report.to_dict()["files"]["r.csv"]["reasons"]["empty id (column 'userId')"]
    assert entry["count"] == 5
    assert [example["line"] for example in entry["examples"]] == [2, 3, 4]
    assert len(entry["examples"][0]["text"]) < 210
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()
    summary = report.summary()
    assert "r.csv: 10 rows read, 5 bad (50.00%)" in summary
    assert "line 3: 'row 3'" in summary and "row 5" not in summary


# ---- format detection -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("format", FORMATS)
def test_detect_format_on_each_fixture(format):
    assert detect_format(FIXTURES / format) == format


def test_detect_format_names_what_it_expected(tmp_path):
    _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n")
    with pytest.raises(DataError) as error:
        detect_format(tmp_path)
    message = str(error.value)
    assert "ratings.csv and movies.csv (movielens-csv)" in message and "u.data and u.item" in message
    assert "found ratings.csv" in message


def test_detect_format_refuses_ambiguous_and_missing_directories(tmp_path):
    for name in ("ratings.csv", "movies.csv", "u.data", "u.item"):
        _write(tmp_path / name, "")
    with pytest.raises(DataError, match="several formats"):
        detect_format(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_explicit_format_needs_its_files_and_a_known_name(tmp_path):
    _write(tmp_path / "u.data", "1\t1\t1\t1\n")
    with pytest.raises(DataError, match="lacks u.item, required for format movielens-100k"):
        load_dataset(tmp_path, format="movielens-100k")
    with pytest.raises(DataError, match="unknown dataset format 'netflix'"):
        load_dataset(tmp_path, format="netflix")


# ---- the embedded dataset ----------------------------------------------------------------------------------------

def test_ml_latest_small_loads_completely():
    dataset = load_dataset(ML_SMALL)
    _assert_canonical(dataset)
    assert dataset.format == "movielens-csv"
    assert len(dataset.interactions) == 100_836 and len(dataset.catalog) == 9_742
    assert dataset.report.total_bad == 0
    assert dataset.interactions["user_id"].nunique() == 610

    # Cross-check against an independent parser.
    ratings = pd.read_csv(ML_SMALL / "ratings.csv", dtype={"userId": str, "movieId": str})
    assert (dataset.interactions["user_id"].to_numpy() == ratings["userId"].to_numpy()).all()
    assert (dataset.interactions["item_id"].to_numpy() == ratings["movieId"].to_numpy()).all()
    assert (dataset.interactions["rating"].to_numpy() == ratings["rating"].to_numpy()).all()
    assert (dataset.interactions["timestamp"].to_numpy() == ratings["timestamp"].to_numpy()).all()
    movies = pd.read_csv(ML_SMALL / "movies.csv", dtype={"movieId": str})
    assert (dataset.catalog["title"].to_numpy() == movies["title"].str.strip().to_numpy()).all()
    no_genres = movies["genres"] == "(no genres listed)"
    assert [genres == [] for genres in dataset.catalog["genres"]] == no_genres.tolist()

    # Tag text: distinct tags, most frequent first (ties in file order).
    with open(ML_SMALL / "tags.csv", encoding="utf-8", newline="") as handle:
        tags = [row["tag"].strip() for row in csv.DictReader(handle) if row["movieId"] == "2"]
    counts = collections.Counter(tags)
    expected = ", ".join(sorted(counts, key=lambda tag: (-counts[tag], tags.index(tag))))
    assert dataset.catalog.set_index("item_id").loc["2", "text"] == expected
    assert (dataset.catalog["text"] != "").sum() == pd.read_csv(ML_SMALL / "tags.csv")["movieId"].nunique()
