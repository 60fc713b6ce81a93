"""Bad-row bookkeeping: every row a loader skips is counted here, per file and reason, with examples.

Loaders never drop a row silently: they record it here, and the run either reports the total (below the threshold)
or stops with a DataError that names the file, the reason (and so the column) and example lines.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from avrec.errors import DataError

MAX_EXAMPLES = 3
MAX_TEXT = 200


@dataclasses.dataclass
class _Reason:
    count: int = 0
    examples: list[tuple[int, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _File:
    rows: int = 0
    reasons: dict[str, _Reason] = dataclasses.field(default_factory=dict)

    @property
    def bad(self) -> int:
        return sum(reason.count for reason in self.reasons.values())

    @property
    def fraction(self) -> float:
        # A file whose rows were never counted is judged on its bad rows alone.
        return self.bad / max(self.rows, self.bad, 1)


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


class BadRowReport:
    """Collects bad rows per source file; keeps counts for all of them and the first few as examples."""

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}

    def _file(self, source: str) -> _File:
        return self._files.setdefault(source, _File())

    def add(self, source: str, line: int, reason: str, text: str) -> None:
        """One bad row: `line` is 1-based in `source`, `reason` names the column or problem, `text` the raw row."""
        self.add_many(source, reason, [line], lambda _: text)

    def add_many(self, source: str, reason: str, lines: Sequence[int], text_of: Callable[[int], str]) -> None:
        """Many bad rows with one reason; `text_of(line)` is only called for the few kept as examples: the lowest
        line numbers, so reports of a file's chunks merge into the report of the whole file."""
        entry = self._file(source).reasons.setdefault(reason, _Reason())
        entry.count += len(lines)
        kept = {line for line, _ in entry.examples}
        candidates = sorted(kept | {int(line) for line in sorted(lines)[:MAX_EXAMPLES]})[:MAX_EXAMPLES]
        known = dict(entry.examples)
        entry.examples = [(line, known[line] if line in known else _truncate(text_of(line))) for line in candidates]

    def count_rows(self, source: str, n: int) -> None:
        """Rows read from `source` (bad ones included), the denominator of its bad fraction."""
        self._file(source).rows += n

    @property
    def total_bad(self) -> int:
        return sum(file.bad for file in self._files.values())

    def summary(self) -> str:
        out = []
        for source, file in self._files.items():
            if not file.bad:
                out.append(f"{source}: {file.rows} rows read, no bad rows")
                continue
            out.append(f"{source}: {file.rows} rows read, {file.bad} bad ({file.fraction:.2%})")
            for reason, entry in file.reasons.items():
                out.append(f"  {reason}: {entry.count}")
                out.extend(f"    line {line}: {text!r}" for line, text in entry.examples)
        return "\n".join(out) if out else "no files read"

    def check(self, max_bad_fraction: float) -> None:
        """Raises DataError if any file's bad fraction exceeds `max_bad_fraction`."""
        failures = []
        for source, file in self._files.items():
            if file.bad and file.fraction > max_bad_fraction:
                reasons = "; ".join(
                    f"{reason}: {entry.count} rows, e.g. "
                    + ", ".join(f"line {line}: {text!r}" for line, text in entry.examples)
                    for reason, entry in file.reasons.items())
                failures.append(f"{source}: {file.bad} of {file.rows} rows bad ({file.fraction:.2%}) -- {reasons}")
        if failures:
            raise DataError(f"too many bad rows (more than max_bad_fraction={max_bad_fraction:g} of a file): "
                            + " | ".join(failures))

    @classmethod
    def merged(cls, reports) -> "BadRowReport":
        """One report of many (the chunks of files read by several workers)."""
        merged = cls()
        for report in reports:
            for source, file in report._files.items():
                merged.count_rows(source, file.rows)
                for reason, entry in file.reasons.items():
                    texts = dict(entry.examples)
                    merged.add_many(source, reason, [line for line, _ in entry.examples], texts.__getitem__)
                    merged._files[source].reasons[reason].count += entry.count - len(entry.examples)
        return merged

    @classmethod
    def from_dict(cls, values: dict) -> "BadRowReport":
        report = cls()
        for source, file in values["files"].items():
            report.count_rows(source, file["rows"])
            for reason, entry in file["reasons"].items():
                report._file(source).reasons[reason] = _Reason(
                    entry["count"], [(example["line"], example["text"]) for example in entry["examples"]])
        return report

    def to_dict(self) -> dict:
        return {
            "total_bad": self.total_bad,
            "files": {
                source: {
                    "rows": file.rows,
                    "bad": file.bad,
                    "reasons": {
                        reason: {"count": entry.count,
                                 "examples": [{"line": line, "text": text} for line, text in entry.examples]}
                        for reason, entry in file.reasons.items()},
                }
                for source, file in self._files.items()},
        }
