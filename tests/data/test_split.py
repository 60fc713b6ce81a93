import pandas as pd
import pytest

from avrec.config import ConfigError, DataConfig
from avrec.data.split import holdout_count, time_split

CATALOG = pd.DataFrame({"item_id": list("abcdefg"), "title": [f"T{c}" for c in "abcdefg"],
                        "genres": [["Drama", "Comedy"], [], ["Drama"], [], [], [], []], "text": [""] * 7,
                        "image_paths": [[]] * 7, "audio_path": [""] * 7, "frame_paths": [[]] * 7})


def interactions(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_latest_interactions_go_to_eval_with_ties_broken_by_item_id():
    rows = [("u", "c", 4.0, 30), ("u", "a", 3.0, 10), ("u", "e", 5.0, 30), ("u", "b", 1.0, 20), ("u", "d", 2.0, 30)]
    split = time_split(interactions(rows), CATALOG, DataConfig(holdout_last=2))
    assert split.train["item_id"].tolist() == ["a", "b", "c"]
    assert split.eval["item_id"].tolist() == ["d", "e"]
    # Shuffled input gives the same split.
    again = time_split(interactions(rows[::-1]), CATALOG, DataConfig(holdout_last=2))
    assert again.eval["item_id"].tolist() == ["d", "e"]


def test_history_is_truncated_for_training_and_complete_for_eval():
    rows = [("u", item, 1.0, t) for t, item in enumerate("abcdefg")]
    split = time_split(interactions(rows), CATALOG, DataConfig(holdout_last=2, max_history=2))
    assert split.train["history"].tolist() == [[], ["a"], ["a", "b"], ["b", "c"], ["c", "d"]]
    assert split.eval["history"].tolist() == [list("abcde"), list("abcdef")]


def test_item_features_are_joined():
    split = time_split(interactions([("u", "a", 1.0, 1), ("u", "b", 1.0, 2)]), CATALOG, DataConfig(holdout_last=1))
    assert split.train.loc[0, "genres"] == ["Drama", "Comedy"] and split.train.loc[0, "title"] == "Ta"
    assert split.eval.loc[0, "genres"] == []


def test_fraction_holdout_and_users_too_short_to_split():
    assert holdout_count(10, 0.25) == 3
    assert holdout_count(10, 3) == 3
    assert holdout_count(3, 10) == 2  # a user always keeps a training interaction
    rows = [("solo", "a", 1.0, 1), ("pair", "a", 1.0, 1), ("pair", "b", 1.0, 2)]
    split = time_split(interactions(rows), CATALOG, DataConfig(holdout_last=5))
    assert split.eval["user_id"].tolist() == ["pair"]
    assert sorted(split.train["user_id"]) == ["pair", "solo"]


@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_bad_holdout_is_a_config_error(value):
    with pytest.raises(ConfigError, match="holdout_last"):
        DataConfig(holdout_last=value)


def test_cold_items_are_held_out_of_training_entirely():
    from avrec.data.split import cold_items

    rows = [(user, item, 1.0, t) for user in ("u", "v") for t, item in enumerate("abcdefg")]
    cold = cold_items(list("abcdefg"), 0.3)
    assert len(cold) == 2 and cold == cold_items(list("gfedcba"), 0.3)  # stable, order-free
    split = time_split(interactions(rows), CATALOG, DataConfig(holdout_last=1, cold_item_fraction=0.3))
    assert not set(split.train["item_id"]) & cold
    assert not any(set(h) & cold for h in split.train["history"])
    cold_eval = split.eval[split.eval["cold"] == 1]
    assert sorted(cold_eval["item_id"]) == sorted(list(cold) * 2)  # every interaction with a cold item
    warm_eval = split.eval[split.eval["cold"] == 0]
    assert len(warm_eval) == 2 and not set(warm_eval["item_id"]) & cold  # the latest warm item per user
    last = split.eval.sort_values("timestamp").iloc[-1]
    assert len(last["history"]) == last["timestamp"]  # eval history: everything before, cold items included
