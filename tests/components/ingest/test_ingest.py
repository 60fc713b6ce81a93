"""Ingestion on Beam: span folders of source files -> canonical events and catalog -> the time split with the rolling
window, run as a real TFX pipeline, span after span."""
import json

import pytest
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts

from avrec import features as F
from avrec.components.artifacts import SpanWindow
from avrec.components.ingest.config import custom_config
from avrec.components.ingest.example_gens import BAD_ROWS_FILE, CatalogExampleGen, EventExampleGen, span_input
from avrec.components.ingest.time_split import TimeSplit, check_written, read_split_report
from avrec.components.ingest.window import read_window
from avrec.config import DataConfig
from avrec.data.examples import read_frame
from avrec.data.split import cold_items, example_hash
from avrec.errors import AvrecError, DataError
from avrec.pipeline.monitor import metadata_connection, run_monitored

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _span(root, span: int, rows: list[tuple], items: str = "abcdefgh"):
    folder = root / f"span-{span}"
    folder.mkdir(parents=True)
    (folder / "items.csv").write_text("item_id,title,genres\n" + "".join(f"{i},Item {i},G{i}\n" for i in items))
    (folder / "interactions.csv").write_text("user_id,item_id,weight,timestamp\n" + "".join(
        f"{user},{item},{weight},{time}\n" for user, item, weight, time in rows))


def _pipeline(data: DataConfig, root, spans=True, eval_examples=1000, group_events=0):
    ingest = custom_config(data, "test")
    events = EventExampleGen(input_base=str(data.source_path), input_config=span_input("events", spans),
                             output_config=tfx.proto.Output(), custom_config=ingest).with_id("EventExampleGen")
    catalog = CatalogExampleGen(input_base=str(data.source_path), input_config=span_input("items", spans),
                                output_config=tfx.proto.Output(), custom_config=ingest).with_id("CatalogExampleGen")
    previous = tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
                                window=tfx.dsl.Channel(type=SpanWindow)).with_id("PreviousWindowResolver")
    split = TimeSplit(events=events.outputs["examples"], catalog=catalog.outputs["examples"],
                      previous_window=previous.outputs["window"], data=data.to_json(), spans=spans,
                      range_config=tfx.proto.RangeConfig(rolling_range=tfx.proto.RollingRange(
                          num_spans=data.span_window)), eval_examples=eval_examples, group_events=group_events,
                      code="test")
    return tfx.dsl.Pipeline(pipeline_name="ingest", pipeline_root=str(root / "pipeline"),
                            components=[events, catalog, previous, split], enable_cache=True,
                            metadata_connection_config=metadata_connection(root / "metadata.sqlite"),
                            beam_pipeline_args=IN_MEMORY)


def _run(data, root, spans=True, eval_examples=1000, group_events=0):
    run_monitored(tfx.orchestration.LocalDagRunner(), _pipeline(data, root, spans, eval_examples, group_events),
                  root / "metadata.sqlite",
                  open(root / "progress.txt", "a"))
    [uri] = sorted((root / "pipeline" / "TimeSplit" / "examples").iterdir(), key=lambda p: int(p.name))[-1:]
    return uri


@pytest.mark.slow
def test_spans_arrive_one_at_a_time_and_the_window_rolls(tmp_path):
    data_dir = tmp_path / "spans"
    _span(data_dir, 1, [("u", "a", 1, 10), ("u", "b", 1, 20), ("v", "a", 1, 15), ("v", "a", 1, 15),
                        ("u", "zz", 1, 25), ("v", "c", 1, 30)])
    data = DataConfig(source=str(data_dir), span_window=2, span_eval_fraction=0.3, max_bad_fraction=0.5)
    first = _run(data, tmp_path, group_events=4)  # users grouped in shards of at most 4 events
    train = read_frame(str(first / "Split-train" / "*"), (F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY))
    evaluated = read_frame(str(first / "Split-eval" / "*"), (F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY))
    assert evaluated["timestamp"].min() > train["timestamp"].max()  # a global time cut
    report = read_split_report(str(first))
    assert report["repeated_events"]["count"] == 1 and report["window"] == [1]
    [events_uri] = (tmp_path / "pipeline" / "EventExampleGen" / "examples").iterdir()
    bad = json.loads((events_uri / BAD_ROWS_FILE).read_text())["files"]["interactions.csv"]
    assert bad["reasons"] == {"unknown item id (column 'item_id')": {
        "count": 1, "examples": [{"line": 6, "text": "u,zz,1,25"}]}}

    _span(data_dir, 2, [("u", "d", 1, 40), ("w", "e", 1, 45), ("u", "f", 1, 50), ("w", "g", 1, 60)])
    second = _run(data, tmp_path, group_events=4)
    train = read_frame(str(second / "Split-train" / "*"), (F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY))
    evaluated = read_frame(str(second / "Split-eval" / "*"), (F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY))
    # Span 1's evaluation period is training now; histories reach back into span 1.
    assert 30 in set(train["timestamp"]) and evaluated["timestamp"].min() > train["timestamp"].max()
    u_history = dict(zip(train["item_id"], train["history"]))
    assert u_history["d"] == ["a", "b"]
    [window_uri] = [p for p in (tmp_path / "pipeline" / "TimeSplit" / "window").iterdir()
                    if p.name == second.name]
    assert [entry.span for entry in read_window(str(window_uri))] == [1, 2]

    _span(data_dir, 3, [("u", "h", 1, 70), ("w", "a", 1, 80), ("u", "b", 1, 90)])
    third = _run(data, tmp_path, group_events=4)
    assert read_split_report(str(third))["window"] == [2, 3]  # span_window = 2
    assert read_split_report(str(third))["user_shards"] == 2  # 8 events in the window


def test_too_many_bad_rows_stop_the_run_naming_file_column_and_lines(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "items.csv").write_text("item_id,title\na,A\n")
    (data_dir / "interactions.csv").write_text("user_id,item_id,rating,timestamp\nu,a,good,1\nu,a,4,2\n")
    with pytest.raises(DataError, match=r"interactions\.csv: 1 of 2 rows bad .*column 'rating'.*line 2"):
        run_monitored(tfx.orchestration.LocalDagRunner(),
                      _pipeline(DataConfig(source=str(data_dir)), tmp_path, spans=False),
                      tmp_path / "metadata.sqlite", open(tmp_path / "progress.txt", "a"))


def test_eval_examples_carry_their_target_group_and_cold_ones_without_history_are_counted(tmp_path):
    """A cold item as a user's first interaction has no history that could rank it: its own group, counted in the
    split report; a warm item trained on once is `few`, one trained on by six users `many`."""
    items = "abcdefghijkl"
    [cold, *_] = sorted(cold_items(list(items), 0.1))
    warm = [item for item in items if item != cold]
    popular, rare, last = warm[0], warm[1], warm[2:]
    rows = [(f"p{n}", popular, 1, 10 + n) for n in range(6)] + [(f"p{n}", last[n], 1, 30 + n) for n in range(6)]
    rows += [("r", rare, 1, 20), ("r", popular, 1, 21), ("r", rare, 1, 50)]  # r re-watches the rare item last
    rows += [("c", cold, 1, 5), ("c", popular, 1, 60), ("c", last[0], 1, 61)]
    rows += [("m", last[1], 1, 70), ("m", popular, 1, 71)]  # popular: trained on by 8 users
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "items.csv").write_text("item_id,title\n" + "".join(f"{i},Item {i}\n" for i in items))
    (data_dir / "interactions.csv").write_text("user_id,item_id,weight,timestamp\n" + "".join(
        f"{user},{item},{weight},{time}\n" for user, item, weight, time in rows))
    examples = _run(DataConfig(source=str(data_dir), holdout_last=1, cold_item_fraction=0.1), tmp_path,
                    spans=False)
    evaluated = read_frame(str(examples / "Split-eval" / "*"), (F.USER_ID, F.ITEM_ID, F.TARGET_GROUP))
    groups = {(user, item): group for user, item, group in evaluated.itertuples(index=False, name=None)}
    assert groups[("c", cold)] == "cold_no_history"
    assert groups[("r", rare)] == "few" and groups[("c", last[0])] == "few"
    assert groups[("p0", last[0])] == "few" and groups[("m", popular)] == "many"
    assert read_split_report(str(examples))["eval_target_groups"] == {
        "many": 1, "few": len(groups) - 2, "cold": 0, "cold_no_history": 1}


def test_at_most_eval_examples_are_scored_the_rest_written_beside_them(tmp_path):
    """Scoring costs examples x catalog items: `eval` is the sample of lowest example hash, `eval_unscored` the
    rest; together they are every evaluation example, and the report counts both."""
    rows = [(f"u{user}", item, 1, 10 * user + step) for user in range(12) for step, item in enumerate("abcd")]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "items.csv").write_text("item_id,title\n" + "".join(f"{i},Item {i}\n" for i in "abcd"))
    (data_dir / "interactions.csv").write_text("user_id,item_id,weight,timestamp\n" + "".join(
        f"{user},{item},{weight},{time}\n" for user, item, weight, time in rows))
    examples = _run(DataConfig(source=str(data_dir), holdout_last=2), tmp_path, spans=False, eval_examples=5)
    columns = (F.USER_ID, F.ITEM_ID, F.TIMESTAMP)
    scored = read_frame(str(examples / "Split-eval" / "*"), columns)
    unscored = read_frame(str(examples / "Split-eval_unscored" / "*"), columns)
    keys = {(user.encode(), item.encode(), int(time)) for frame in (scored, unscored)
            for user, item, time in frame.itertuples(index=False, name=None)}
    assert len(scored) == 5 and len(unscored) == 12 * 2 - 5 and len(keys) == 24
    assert {(user.encode(), item.encode(), int(time)) for user, item, time in scored.itertuples(
        index=False, name=None)} == set(sorted(keys, key=lambda key: example_hash(*key))[:5])
    report = read_split_report(str(examples))
    assert (report["eval"], report["eval_scored"]) == (24, 5) and sum(report["eval_target_groups"].values()) == 24


def test_any_number_of_user_shards_writes_what_one_group_writes(tmp_path):
    """DirectRunner holds a shuffle in memory, so TimeSplit groups the log's users in shards of at most
    `group_events` events: the examples, their target groups, the scored sample and the counts do not depend on
    it."""
    rows = [(f"u{user}", item, 1, 10 * user + step) for user in range(30) for step, item in enumerate("abcdefgh"[user % 3:])]
    rows += [("u0", "a", 1, 0)]  # an exact repeat
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "items.csv").write_text("item_id,title\n" + "".join(f"{i},Item {i}\n" for i in "abcdefgh"))
    (data_dir / "interactions.csv").write_text("user_id,item_id,weight,timestamp\n" + "".join(
        f"{user},{item},{weight},{time}\n" for user, item, weight, time in rows))
    data = DataConfig(source=str(data_dir), holdout_last=2, cold_item_fraction=0.2)
    columns = (F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY, F.COLD, F.TARGET_GROUP, F.LATEST, F.HORIZON)
    written = {}
    for group_events in (0, 40):
        examples = _run(data, tmp_path / str(group_events), spans=False, eval_examples=20, group_events=group_events)
        report = read_split_report(str(examples))
        assert report.pop("user_shards") == (1 if group_events == 0 else -(-len(rows) // group_events))
        frames = {split: sorted(tuple(tuple(value) if isinstance(value, list) else value for value in row)
                                for row in read_frame(str(examples / f"Split-{split}" / "*"), columns).itertuples(
                                    index=False, name=None)) for split in ("train", "eval", "eval_unscored")}
        written[group_events] = frames, report
    assert written[0] == written[40]
    frames, report = written[0]
    assert len(frames["eval"]) == 20 and report["repeated_events"]["count"] == 1
    assert report["eval_target_groups"]["cold"] > 0 and {row[5] for row in frames["train"]} == {"train"}


def test_examples_the_runner_did_not_write_stop_the_run(tmp_path):
    examples = standard_artifacts.Examples()
    examples.uri, examples.split_names = str(tmp_path), artifact_utils.encode_split_names(
        ["train", "eval", "eval_unscored"])
    for split, count in (("train", 3), ("eval", 1), ("eval_unscored", 0)):
        (tmp_path / f"Split-{split}").mkdir()
        if count:
            with tf.io.TFRecordWriter(str(tmp_path / f"Split-{split}" / "part.gz"), "GZIP") as writer:
                for _ in range(count):
                    writer.write(b"example")
    assert check_written(examples, train=3, evaluated=1) == {"train": 3, "eval": 1, "eval_unscored": 0}
    with pytest.raises(AvrecError, match=r"made 4 training and 1 evaluation examples but the Beam runner wrote"):
        check_written(examples, train=4, evaluated=1)
