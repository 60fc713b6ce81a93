"""Source files read into Arrow columns that remember each row's line, and checks that drop bad rows by reason.

Splitting, checking and dropping work on whole columns, so a 25M-row ratings file loads in seconds; only lines
containing a quote go through Python's csv module. Every dropped row goes to the BadRowReport with its 1-based line
number and raw text, so a loader never loses a row silently.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from avrec.data.report import BadRowReport
from avrec.errors import DataError

NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
INTEGER = r"^[+-]?\d{1,18}$"
BAD_ENCODING = "invalid UTF-8 (bad encoding)"
# Newlines are located this many bytes at a time, to bound the temporary mask on a 700 MB file.
_CHUNK = 1 << 26


def _mask(array: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy, nulls read as False."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _as_string(array: pa.Array) -> pa.Array:
    """Any column as trimmed strings, nulls as ''."""
    if not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.large_string())
    return pc.utf8_trim_whitespace(pc.fill_null(array, ""))


def strings(array: pa.Array) -> np.ndarray:
    """A string column as a numpy object array whose equal values share one str (25M ids, a few distinct)."""
    encoded = pc.dictionary_encode(array)
    return encoded.dictionary.to_numpy(zero_copy_only=False)[encoded.indices.to_numpy(zero_copy_only=False)]


class Table:
    """Columns of one file, the line each row came from, and checks that move bad rows to the report."""

    def __init__(self, source: str, columns: dict[str, pa.Array], lines: np.ndarray,
                 text_of: Callable[[int], str], report: BadRowReport) -> None:
        self.source = source
        self.columns = columns
        self.lines = lines
        self._text_of = text_of
        self.report = report

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, name: str) -> bool:
        return name in self.columns

    def require(self, *names: str) -> None:
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise DataError(f"{self.source} lacks required column(s) {', '.join(map(repr, missing))} "
                            f"(found: {', '.join(map(repr, self.columns)) or 'none'})")

    def drop(self, bad: np.ndarray, reason: str) -> None:
        """Reports the rows where `bad` is True under `reason` and removes them."""
        if not bad.any():
            return
        self.report.add_many(self.source, reason, self.lines[bad], self._text_of)
        keep = pa.array(~bad)
        self.columns = {name: column.filter(keep) for name, column in self.columns.items()}
        self.lines = self.lines[~bad]

    def ids(self, name: str) -> None:
        """Ids become trimmed strings; empty ones go (the empty string pads lists everywhere downstream)."""
        self.columns[name] = _as_string(self.columns[name])
        self.drop(_mask(pc.equal(self.columns[name], "")), f"empty id (column '{name}')")

    def texts(self, name: str) -> None:
        """Free-text columns (titles, tags, paths) become trimmed strings, '' where absent."""
        self.columns[name] = _as_string(self.columns[name])

    def numbers(self, name: str, what: str) -> None:
        """The column becomes float64; rows without a finite number go (1e999 overflows to infinity: not finite)."""
        column = self.columns[name]
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            column = _as_string(column)
            self.columns[name] = column
            self.drop(~_mask(pc.match_substring_regex(column, NUMBER)), f"non-numeric {what} (column '{name}')")
        self.columns[name] = pc.cast(self.columns[name], pa.float64())
        self.drop(~_mask(pc.is_finite(self.columns[name])), f"non-finite {what} (column '{name}')")

    def integers(self, name: str, what: str) -> None:
        """The column becomes int64 (datetimes as Unix seconds); missing and non-integer values go."""
        column = self.columns[name]
        if pa.types.is_timestamp(column.type):
            column = pc.cast(pc.cast(column, pa.timestamp("s", column.type.tz), safe=False), pa.int64())
        if pa.types.is_integer(column.type):
            missing, whole = pc.is_null(column), pc.is_valid(column)
        elif pa.types.is_floating(column.type):
            missing = pc.is_nan(column)
            whole = pc.and_(pc.is_finite(column), pc.equal(pc.floor(column), column))
        else:
            column = _as_string(column)
            missing, whole = pc.equal(column, ""), pc.match_substring_regex(column, INTEGER)
        self.columns[name] = column
        missing = _mask(missing) | _mask(pc.is_null(column))
        self.drop(missing, f"missing {what} (column '{name}')")
        self.drop(~_mask(whole)[~missing], f"non-integer {what} (column '{name}')")
        self.columns[name] = pc.cast(self.columns[name], pa.int64())

    def known(self, name: str, values: pa.Array, reason: str) -> None:
        """Drops rows whose `name` is not among `values` (e.g. ratings of items missing from the catalog)."""
        column = self.columns[name]
        self.drop(~_mask(pc.is_in(column, value_set=pc.cast(values, column.type))), reason)

    def unique(self, name: str, what: str) -> None:
        """Keeps the first row of each `name` value; later duplicates go."""
        values = pd.Series(self.columns[name].to_numpy(zero_copy_only=False))
        self.drop(values.duplicated().to_numpy(), f"duplicate {what} (column '{name}')")


def _line_array(raw: bytes) -> pa.Array:
    """Every line of `raw` (UTF-8) without its line ending, as one Arrow array over the same bytes."""
    view = np.frombuffer(raw, dtype=np.uint8)
    ends = [np.flatnonzero(view[start:start + _CHUNK] == 10) + start + 1 for start in range(0, len(view), _CHUNK)]
    ends = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    if len(raw) and raw[-1:] != b"\n":
        ends = np.append(ends, len(raw))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(raw))
    return pc.utf8_rtrim(lines, characters="\r\n")


def _blank_undecodable(raw: bytes, offset: int) -> tuple[bytes, dict[int, str]]:
    """Empties lines that are not valid UTF-8, keeping line numbers; returns them by line with their best reading."""
    parts = raw.split(b"\n")
    bad = {}
    for index, part in enumerate(parts):
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            bad[index + 1 + offset] = part.decode("utf-8", "replace").rstrip("\r")
            parts[index] = b""
    return b"\n".join(parts), bad


def _quoted_records(lines: pa.Array, starts: np.ndarray, sep: str, width: int, multiline: bool,
                    consumed: np.ndarray) -> Iterator[tuple[int, list[str] | None]]:
    """(line, fields) for records starting on lines with quotes; fields None when the quoting is broken.

    With `multiline`, a quoted value may continue on the next lines; a record spanning lines must have `width`
    fields to claim them (marked in `consumed`), so one stray quote cannot swallow the lines after it."""
    for start in starts:
        if consumed[start]:
            continue
        end = len(lines) if multiline else start + 1
        reader = csv.reader((lines[index].as_py() + "\n" for index in range(start, end)), delimiter=sep, strict=True)
        try:
            fields = next(reader)
        except csv.Error:
            fields = None
        spanned = reader.line_num if fields is not None and len(fields) == width else 1
        consumed[start:start + spanned] = True
        yield start + 1, fields


@dataclasses.dataclass(frozen=True)
class Chunk:
    """A piece of a source file that one worker reads: bytes [start, end) beginning at 1-based line `first_line`
    (delimited text), or one row group whose first row is row `first_line` (Parquet)."""

    start: int = 0
    end: int | None = None
    first_line: int = 1
    row_group: int | None = None


def header_names(path: Path, *, sep: str, encoding: str, quoting: bool = False) -> tuple[tuple[str, ...], int]:
    """The column names in a file's first line, and the byte where the line after it starts."""
    with open(path, "rb") as handle:
        raw = handle.readline()
    end = len(raw)
    raw = raw.decode("latin-1").encode("utf-8") if encoding == "latin-1" else raw.removeprefix(codecs.BOM_UTF8)
    try:
        header = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        header = ""
    if not header:
        raise DataError(f"{path.name} has no readable header line")
    names = next(csv.reader([header], delimiter=sep)) if quoting else header.split(sep)
    return tuple(name.strip() for name in names), end


def line_chunks(path: Path, start: int, chunk_bytes: int) -> list[Chunk]:
    """The file from byte `start` (which begins line 2 after a header, or line 1) cut at line ends into pieces of
    about chunk_bytes, each with the number of its first line; the file is scanned _CHUNK bytes at a time."""
    size = path.stat().st_size
    chunks, line = [], 2 if start else 1
    with open(path, "rb") as handle:
        while start < size:
            handle.seek(min(start + chunk_bytes, size))
            tail = handle.readline() if start + chunk_bytes < size else b""
            end = min(start + chunk_bytes, size) + len(tail)
            chunks.append(Chunk(start, end, line))
            handle.seek(start)
            remaining = end - start
            while remaining:
                block = handle.read(min(_CHUNK, remaining))
                line += block.count(b"\n")
                remaining -= len(block)
            start = end
    return chunks


def _read_bytes(path: Path, chunk: Chunk) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(chunk.start)
        return handle.read() if chunk.end is None else handle.read(chunk.end - chunk.start)


def read_delimited(path: Path, report: BadRowReport, *, sep: str, encoding: str,
                   names: tuple[str, ...] | None = None, quoting: bool = False, multiline: bool = False,
                   chunk: Chunk = Chunk()) -> Table:
    """Reads a delimited text file (or one chunk of it) one record per line (blank lines skipped).

    `names` None: the first line is the header. `quoting`: CSV double-quote rules apply (movies.csv titles have
    commas); `multiline`: quoted values may span lines (never across chunks: only whole small files are read so).
    Rows with the wrong number of fields, broken quoting or undecodable bytes are reported; everything else comes
    back as string columns, each row with its line number in the whole file."""
    source = path.name
    raw = _read_bytes(path, chunk)
    offset = chunk.first_line - 1
    undecodable: dict[int, str] = {}
    if encoding == "latin-1":
        raw = raw.decode("latin-1").encode("utf-8")
    else:
        raw = raw.removeprefix(codecs.BOM_UTF8) if chunk.start == 0 else raw
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raw, undecodable = _blank_undecodable(raw, offset)
    lines = _line_array(raw)

    def text_of(line: int) -> str:
        return undecodable[line] if line in undecodable else lines[line - 1 - offset].as_py()

    first = 0
    if names is None:
        if not len(lines) or (1 in undecodable):
            raise DataError(f"{source} has no readable header line")
        header = lines[0].as_py()
        names = tuple(name.strip() for name in (next(csv.reader([header], delimiter=sep)) if quoting
                                                 else header.split(sep)))
        first = 1
    expected = (f"wrong column count (expected {len(names)}: {', '.join(names)})" if len(names) <= 8
                else f"wrong column count (expected {len(names)})")

    record = _mask(pc.greater(pc.binary_length(lines), 0))
    record[:first] = False
    if undecodable:
        report.add_many(source, BAD_ENCODING, sorted(undecodable), text_of)
    consumed = np.zeros(len(lines), dtype=bool)
    quoted: list[tuple[int, list[str]]] = []
    wrong_lines, broken = [], []
    if quoting:
        starts = np.flatnonzero(record & _mask(pc.match_substring(lines, '"')))
        for line, fields in _quoted_records(lines, starts, sep, len(names), multiline, consumed):
            if fields is None:
                broken.append(line + offset)
            elif len(fields) != len(names):
                wrong_lines.append(line + offset)
            else:
                quoted.append((line + offset, fields))
    plain = record & ~consumed
    parts = pc.split_pattern(lines.filter(pa.array(plain)), pattern=sep)
    row_lines = np.flatnonzero(plain).astype(np.int64) + 1 + offset
    wrong = pc.list_value_length(parts).to_numpy(zero_copy_only=False) != len(names)
    if wrong.any():
        wrong_lines.extend(row_lines[wrong].tolist())
        parts = parts.filter(pa.array(~wrong))
        row_lines = row_lines[~wrong]
    if wrong_lines:
        report.add_many(source, expected, sorted(wrong_lines), text_of)
    if broken:
        report.add_many(source, "broken quoting (unterminated or stray '\"')", broken, text_of)
    report.count_rows(source, len(row_lines) + len(quoted) + len(wrong_lines) + len(broken) + len(undecodable))
    # Every remaining row has len(names) fields, so column k is every len(names)-th value from k.
    values = parts.flatten()
    columns = {name: values.take(pa.array(np.arange(index, len(values), len(names))))
               for index, name in enumerate(names)}
    if quoted:
        # Quoted records join the plain ones in file order.
        row_lines = np.concatenate((row_lines, np.asarray([line for line, _ in quoted], dtype=np.int64)))
        order = np.argsort(row_lines, kind="stable")
        columns = {name: pa.concat_arrays([columns[name], pa.array([fields[index] for _, fields in quoted],
                                                                   pa.large_string())]).take(pa.array(order))
                   for index, name in enumerate(names)}
        row_lines = row_lines[order]
    return Table(source, columns, row_lines, text_of, report)


def parquet_chunks(path: Path) -> list[Chunk]:
    """One chunk per row group, each with the 1-based position of its first row."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"cannot read {path.name} as Parquet: {error}") from None
    firsts = np.cumsum([0] + [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)])
    return [Chunk(first_line=int(firsts[i]) + 1, row_group=i) for i in range(metadata.num_row_groups)]


def read_parquet(path: Path, report: BadRowReport, chunk: Chunk = Chunk()) -> Table:
    """Reads a Parquet file (or one row group of it); a row's 'line' is its 1-based position in the file, its text
    the row's values."""
    try:
        table = pq.read_table(path) if chunk.row_group is None else pq.ParquetFile(path).read_row_group(
            chunk.row_group)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"cannot read {path.name} as Parquet: {error}") from None

    def text_of(line: int) -> str:
        row = table.slice(line - chunk.first_line, 1).to_pylist()[0]
        return ", ".join(f"{name}={value!r}" for name, value in row.items())

    report.count_rows(path.name, table.num_rows)
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    lines = np.arange(chunk.first_line, chunk.first_line + table.num_rows, dtype=np.int64)
    return Table(path.name, columns, lines, text_of, report)
