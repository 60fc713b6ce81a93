"""The rolling window of spans carried from run to run."""
from avrec.components.ingest.window import SpanEntry, next_window, read_window, write_window
from avrec.data.spans import span_numbers


def _entry(span, cutoff=None):
    return SpanEntry(span, f"/events/{span}", f"/examples/{span}", cutoff)


def test_the_window_keeps_the_latest_spans_and_a_reread_span_replaces_its_old_entry(tmp_path):
    window = next_window([], _entry(1, 10), 2)
    window = next_window(window, _entry(2, 20), 2)
    assert [entry.span for entry in next_window(window, _entry(3), 2)] == [2, 3]
    again = next_window(window, SpanEntry(2, "/events/2b", "/examples/2b", None), 2)
    assert [(entry.span, entry.events) for entry in again] == [(1, "/events/1"), (2, "/events/2b")]
    write_window(str(tmp_path), window)
    assert read_window(str(tmp_path)) == window and read_window(None) == []


def test_span_folders_are_found_by_name(tmp_path):
    for name in ("span-1", "span-10", "span-2", "spans-3", "span-x", "span-"):
        (tmp_path / name).mkdir()
    (tmp_path / "span-4").write_text("a file")
    assert span_numbers(tmp_path) == [1, 2, 10] and span_numbers(tmp_path / "missing") == []
