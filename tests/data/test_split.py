import pytest

from avrec.config import ConfigError, DataConfig
from avrec.data.split import EVAL, TRAIN, SplitPlan, cold_items, holdout_count, split_user, target_group
from avrec.features import FEW_INTERACTIONS


def events(items, start=0, span=0, rating=1.0):
    """One user's events: item i at time start + i."""
    return [(start + t, item, rating, span) for t, item in enumerate(items)]


def roles(examples):
    return [(example.item_id, example.role) for example in examples]


def test_latest_interactions_go_to_eval_with_ties_broken_by_item_id():
    rows = [(30, "c", 4.0, 0), (10, "a", 3.0, 0), (30, "e", 5.0, 0), (20, "b", 1.0, 0), (30, "d", 2.0, 0)]
    examples = split_user(rows, SplitPlan(holdout_last=2)).examples
    assert roles(examples) == [("a", TRAIN), ("b", TRAIN), ("c", TRAIN), ("d", EVAL), ("e", EVAL)]
    assert roles(split_user(rows[::-1], SplitPlan(holdout_last=2)).examples) == roles(examples)  # order-free


def test_history_is_truncated_for_training_and_complete_for_eval():
    examples = split_user(events("abcdefg"), SplitPlan(holdout_last=2, max_history=2)).examples
    assert [e.history for e in examples if e.role == TRAIN] == [[], ["a"], ["a", "b"], ["b", "c"], ["c", "d"]]
    assert [e.history for e in examples if e.role == EVAL] == [list("abcde"), list("abcdef")]


def test_fraction_holdout_and_users_too_short_to_split():
    assert holdout_count(10, 0.25) == 3
    assert holdout_count(10, 3) == 3
    assert holdout_count(3, 10) == 2  # a user always keeps a training interaction
    assert roles(split_user(events("a"), SplitPlan(holdout_last=5)).examples) == [("a", TRAIN)]
    assert roles(split_user(events("ab"), SplitPlan(holdout_last=5)).examples) == [("a", TRAIN), ("b", EVAL)]


@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_bad_holdout_is_a_config_error(value):
    with pytest.raises(ConfigError, match="holdout_last"):
        DataConfig(holdout_last=value)


def test_exact_repeats_are_one_event_and_reported():
    rows = [(5, "a", 1.0, 0), (5, "a", 3.0, 0), (6, "a", 1.0, 0), (5, "b", 1.0, 0), (5, "a", 2.0, 0)]
    split = split_user(rows, SplitPlan(holdout_last=1))
    examples, repeats = split.examples, split.repeats
    # One (time, item) event kept, with the highest rating; a re-watch at another time is a new event.
    assert [(e.timestamp, e.item_id, e.rating) for e in examples] == [(5, "a", 3.0), (5, "b", 1.0), (6, "a", 1.0)]
    assert sorted(repeats) == [(5, "a", 1.0, 0), (5, "a", 2.0, 0)]
    assert examples[-1].history == ["a", "b"]  # the repeats are not history either


def test_cold_items_are_held_out_of_training_entirely():
    cold = cold_items(list("abcdefg"), 0.3)
    assert len(cold) == 2 and cold == cold_items(list("gfedcba"), 0.3)  # stable, order-free
    examples = split_user(events("abcdefg"), SplitPlan(holdout_last=1, cold=cold)).examples
    train = [e for e in examples if e.role == TRAIN]
    assert not {e.item_id for e in train} & cold and not any(set(e.history) & cold for e in train)
    assert split_user(events("abcdefg"), SplitPlan(holdout_last=1, cold=cold)).trained == [e.item_id for e in train]
    cold_eval = [e for e in examples if e.cold]
    assert sorted(e.item_id for e in cold_eval) == sorted(cold) and all(e.role == EVAL for e in cold_eval)
    warm_eval = [e for e in examples if e.role == EVAL and not e.cold]
    assert [e.item_id for e in warm_eval] == [max(set("abcdefg") - cold)]  # the latest warm item
    last = max(examples, key=lambda e: e.timestamp)
    assert len(last.history) == last.timestamp  # eval history: everything before, cold items included


def test_spans_evaluate_only_what_is_later_than_all_training():
    """Window of spans 1-3, span 3 newest with its cut at time 25; span 2 was cut at 15 when it was the newest."""
    rows = events("ab", start=0, span=1) + events("cdef", start=12, span=2) + events("ghij", start=23, span=3)
    plan = SplitPlan(max_history=3, newest_span=3, cutoff=25, previous_span=2, previous_cutoff=15)
    examples = split_user(rows, plan).examples
    # Emitted: span 2's events from its old cut on (now training), span 3's before the cut (training), after (eval).
    assert roles(examples) == [("f", TRAIN), ("g", TRAIN), ("h", TRAIN), ("i", EVAL), ("j", EVAL)]
    assert max(e.timestamp for e in examples if e.role == TRAIN) < min(e.timestamp for e in examples
                                                                         if e.role == EVAL)
    assert examples[0].history == ["c", "d", "e"] and examples[-1].history == list("abcdefghi")
    assert split_user(rows, plan).trained == list("abcdefgh")  # the whole window's training, older spans too


@pytest.mark.parametrize("cold, history, trained, group", [
    (1, [], 0, "cold_no_history"), (1, ["a"], 0, "cold"), (0, ["a"], 1, "few"), (0, [], FEW_INTERACTIONS, "few"),
    (0, ["a"], FEW_INTERACTIONS + 1, "many")])
def test_target_groups_slice_examples_by_what_training_knows_of_the_target(cold, history, trained, group):
    assert target_group(cold, history, trained) == group


def test_latest_marks_a_users_last_training_example_and_horizon_where_the_eval_period_starts():
    examples = split_user(events("abcdef"), SplitPlan(holdout_last=3)).examples
    assert [e.latest for e in examples] == [0, 0, 1, 0, 0, 0]  # only the last training example
    # Eval examples: their history before the period (3 items) is what the future protocol reads.
    assert [e.horizon for e in examples if e.role == EVAL] == [3, 3, 3]
    assert [e.horizon for e in examples if e.role == TRAIN] == [0, 1, 2]
    only = split_user(events("ab"), SplitPlan(holdout_last=1)).examples
    assert [e.latest for e in only] == [0, 0]  # a user's single training example is never held for validation


def _window_targets(example):
    """The items a window row trains: the last `window` of its history, then its target."""
    return (example.history + [example.item_id])[len(example.history) + 1 - example.window:] if example.window else []


def test_windows_tile_every_training_target_once_each_read_from_the_items_before_it():
    items = [f"i{n}" for n in range(22)]
    examples = split_user(events(items), SplitPlan(holdout_last=3, max_history=5)).examples
    training = [e for e in examples if e.role == TRAIN]
    assert [e.window for e in training] == [0, 0, 0, 4] + [0, 0, 0, 0, 5] * 3  # cut from the end
    assert [item for e in training for item in _window_targets(e)] == [e.item_id for e in training]
    assert training[-1].latest and all(e.window == 0 for e in examples if e.role == EVAL)


def test_a_history_only_item_is_no_window_target():
    """Spans: the previous span's events before its cut are history for the window, trained in an earlier run."""
    plan = SplitPlan(max_history=50, newest_span=2, cutoff=100, previous_span=1, previous_cutoff=3)
    user = events("abcde", span=1) + events("fgh", start=50, span=2) + events("z", start=100, span=2)
    training = [e for e in split_user(user, plan).examples if e.role == TRAIN]
    assert [e.item_id for e in training] == list("defgh")
    assert [item for e in training for item in _window_targets(e)] == list("defgh")  # a, b, c: history only
    assert training[-1].history == list("abcdefg") and training[-1].window == 5
