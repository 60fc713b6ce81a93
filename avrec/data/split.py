"""The train/eval split with history features, decided one user at a time (the pipeline groups events by user).

Each user's events are ordered by timestamp, ties broken by item id, so the split is deterministic. An exact repeat
(same item and timestamp) is one event: one is kept (the highest rating) and the repeats are reported. Every example
carries the items the user interacted with before it, oldest first, as `history`: training examples keep the last
`max_history` of them, evaluation examples keep all of them, because evaluation excludes everything the user has
already seen from the ranking and the model reads only the most recent ones.

Two protocols:
- one dataset (`newest_span` None): each user's latest `holdout_last` interactions (a count, or a fraction) are
  evaluated and training never sees them; a user always keeps one training interaction. In cold-start mode a share
  of the items (chosen by a hash of their id, so the choice is stable) is held out of training entirely: every
  interaction with them is an evaluation example marked `cold`, and they never appear in a training history.
- spans: the newest span's events at or after `cutoff` are evaluated, so every evaluation example is later than
  every training example; its earlier events are training examples, and so are the previous span's events at or
  after that span's own cut, which were its evaluation examples when it was the newest.

Each user's latest training example is marked `latest` (the Trainer draws its time-based validation slice from
these). Training examples also mark the windows the Trainer reads every position of (SASRec's loss): `window` is
how many of the row's last items (its history, then its target) are training targets this row trains, 0 on every
other row, so that the windows tile each user's training targets, each once, at most `max_history` per row. Every
evaluation example carries its `horizon`: how many of its history items precede the user's evaluation period, so the
future protocol can predict the whole period from what was known before it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math

from avrec.features import FEW_INTERACTIONS

Event = tuple[int, str, float, int]  # (timestamp, item_id, rating, span)
TRAIN, EVAL = "train", "eval"
# The evaluation examples beyond the scored sample (EvalConfig.eval_examples): written, never scored.
EVAL_UNSCORED = "eval_unscored"


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    holdout_last: float = 10
    min_user_interactions: int = 2
    max_history: int = 50
    cold: frozenset[str] = frozenset()
    newest_span: int | None = None
    cutoff: int | None = None
    previous_span: int | None = None
    previous_cutoff: int | None = None


@dataclasses.dataclass(frozen=True)
class UserSplit:
    examples: list["UserExample"]
    repeats: list[Event]  # exact repeats left out
    trained: list[str]  # every item this user contributes to the window's training (the window's item counts)


@dataclasses.dataclass(frozen=True)
class UserExample:
    item_id: str
    rating: float
    timestamp: int
    history: list[str]
    cold: int
    role: str  # TRAIN or EVAL
    latest: int = 0  # 1 on the user's latest training example, when the user has more than one
    window: int = 0  # trailing items of history + [item_id] this row trains in a window (0: none)
    horizon: int = 0  # leading history items before the user's evaluation period (len(history) for training)


def holdout_count(n_interactions: int, holdout_last: float) -> int:
    """How many of a user's latest interactions go to eval: never all of them."""
    wanted = int(holdout_last) if holdout_last >= 1 else math.ceil(holdout_last * n_interactions)
    return max(0, min(wanted, n_interactions - 1))


def stable_hash(*parts: bytes) -> int:
    """A 64-bit hash that is the same in every process, run and machine: samples drawn as its lowest values."""
    return int.from_bytes(hashlib.blake2b(b"\0".join(parts), digest_size=8).digest(), "little")


def example_hash(user: bytes, item: bytes, timestamp: int) -> int:
    """An evaluation example's place in the sampling order, lowest first: the model's sample (TimeSplit) and the
    baselines' smaller one (components.score_baselines) are nested."""
    return stable_hash(user, item, str(timestamp).encode())


def cold_items(item_ids, fraction: float) -> frozenset[str]:
    """The `fraction` of the given items whose id hashes lowest: deterministic across runs and machines."""
    unique = sorted(set(item_ids), key=lambda item: hashlib.sha1(item.encode()).hexdigest())
    return frozenset(unique[:round(fraction * len(unique))])


def _distinct(events: list[Event]) -> tuple[list[Event], list[Event]]:
    """(events in order, one per (timestamp, item): the highest rating; the repeats)."""
    ordered = sorted(events, key=lambda event: (event[0], event[1], -event[2], event[3]))
    kept, repeats = [], []
    for event in ordered:
        if kept and kept[-1][:2] == event[:2]:
            repeats.append(event)
        else:
            kept.append(event)
    return kept, repeats


def _roles_one_dataset(events: list[Event], plan: SplitPlan) -> list[str | None]:
    cold = [event[1] in plan.cold for event in events]
    warm = [position for position, is_cold in enumerate(cold) if not is_cold]
    n_eval = holdout_count(len(warm), plan.holdout_last) if len(warm) >= plan.min_user_interactions else 0
    held_out = set(warm[len(warm) - n_eval:]) | {position for position, is_cold in enumerate(cold) if is_cold}
    return [EVAL if position in held_out else TRAIN for position in range(len(events))]


def _roles_spans(events: list[Event], plan: SplitPlan) -> list[str | None]:
    """Roles of the events this run emits; None for the window's older events (history only)."""
    roles = []
    for timestamp, _, _, span in events:
        if span == plan.newest_span:
            roles.append(EVAL if timestamp >= plan.cutoff else TRAIN)
        elif span == plan.previous_span and plan.previous_cutoff is not None and timestamp >= plan.previous_cutoff:
            roles.append(TRAIN)
        else:
            roles.append(None)
    return roles


def _period_start(events: list[Event], roles: list[str | None], cold: frozenset[str]) -> int:
    """Where the user's evaluation period begins: the first evaluated event that is not a cold item (cold items are
    evaluated wherever they fall in time)."""
    return next((position for position, ((_, item, _, _), role) in enumerate(zip(events, roles))
                 if role == EVAL and item not in cold), len(events))


def split_user(events: list[Event], plan: SplitPlan) -> UserSplit:
    """One user's examples, the repeated events left out, and the items the user trains."""
    events, repeats = _distinct(events)
    roles = _roles_one_dataset(events, plan) if plan.newest_span is None else _roles_spans(events, plan)
    period = _period_start(events, roles, plan.cold)
    examples, seen, trainable, places = [], [], [], []
    for position, ((timestamp, item, rating, _), role) in enumerate(zip(events, roles)):
        is_cold = item in plan.cold
        if role is not None:
            history = list(seen) if role == EVAL else trainable[-plan.max_history:]
            horizon = min(position, period) if role == EVAL else len(history)
            examples.append(UserExample(item, rating, timestamp, history, int(is_cold), role, horizon=horizon))
            places.append(len(trainable))
        seen.append(item)
        if not is_cold and role != EVAL:
            trainable.append(item)
    training = [n for n, example in enumerate(examples) if example.role == TRAIN]
    windows = _windows([places[n] for n in training], plan.max_history)
    for n, window in zip(training, windows):
        examples[n] = dataclasses.replace(examples[n], window=window)
    if len(training) > 1:
        examples[training[-1]] = dataclasses.replace(examples[training[-1]], latest=1)
    return UserSplit(examples, repeats, trainable)


def _windows(places: list[int], length: int) -> list[int]:
    """Per training example (its place in the user's trainable sequence, ascending), how many targets its row trains
    as a window: runs of consecutive places (a history-only item breaks a run, as it is no target) are cut from
    their end into windows of at most `length` targets, each ending at the row that trains it."""
    windows = [0] * len(places)
    end = len(places) - 1
    while end >= 0:
        start = end
        while start > 0 and places[start - 1] == places[start] - 1 and end - start + 1 < length:
            start -= 1
        windows[end] = end - start + 1
        end = start - 1
    return windows


def target_group(cold: int, history: list[str], trained: int) -> str:
    """The evaluation slice of an example (avrec.features.TARGET_GROUPS), given how often the window trains its
    target item."""
    if cold:
        return "cold" if history else "cold_no_history"
    return "few" if trained <= FEW_INTERACTIONS else "many"
