"""The Trainer's modality selection: only modalities some item has are tried; one whose absence gains on the slice by
more than chance is switched off, and stays off in the saved model's modality_keep; a tie keeps it."""
import numpy as np
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models.item_content import ItemContent
from avrec.models.modality_selection import select_modalities
from avrec.models.retrieval import TwoTowerModel
from tests.support.towers import SIZES, catalog, features, key


def _content(image_signal: float, seed: int = 0, items: int = SIZES.items) -> ItemContent:
    """Text that names each item's cluster (items i and i+4 alike), covers of pure noise (times image_signal), no
    audio anywhere."""
    rng = np.random.default_rng(seed)
    text = np.eye(4)[np.arange(items) % 4] + 0.01 * rng.normal(size=(items, 4))
    image = image_signal * rng.normal(size=(items, 6))
    return ItemContent(np.array([key(item).encode() for item in range(items)]),
                       {"text": text, "image": image, "audio": np.zeros((items, 2))},
                       np.array([[True, True, False]] * items))


def _trained(content: ItemContent, items: int = SIZES.items) -> tuple[TwoTowerModel, tf.data.Dataset]:
    """Trained on 400 examples where item h is followed by h + 4 (mod 8); items from SIZES.items on are cold."""
    config = ModelConfig(embedding_dim=8, history_length=2, learning_rate=0.02, user_min_examples=1)
    tf.keras.utils.set_random_seed(0)
    model = TwoTowerModel(SIZES, config, catalog(items), content=content)
    rng = np.random.default_rng(1)
    histories = rng.integers(0, SIZES.items, 400)
    batch = features([0] * 400, ((histories + 4) % SIZES.items).tolist(), [[h] for h in histories], config)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
    data = tf.data.Dataset.from_tensor_slices(batch).batch(40)
    model.fit(data, epochs=10, verbose=0)
    return model, data


def test_only_modalities_some_item_has_are_tried_and_those_switched_off_stay_off():
    model, data = _trained(_content(image_signal=1.0))
    report = select_modalities(model, data)
    assert "without_audio" not in report and {"without_text", "without_image"} <= set(report)
    keep = model.candidate_tower.modality_keep.numpy().tolist()
    assert keep == [name not in report["off"] for name in ("text", "image")] + [False]
    assert 0 <= report["all"]["cold"] <= 1 and 0 <= report["all"]["warm"] <= 1




def test_a_tie_keeps_every_modality():
    model, data = _trained(_content(image_signal=1.0))
    report = select_modalities(model, data)
    # Eight items: every target is in every read's top 10, with or without each modality. Nothing tells them apart.
    assert report["all"] == report["without_text"] == report["without_image"] == {"warm": 1.0, "cold": 1.0}
    assert report["off"] == [] and model.candidate_tower.modality_keep.numpy().tolist() == [True, True, False]


def test_a_modality_whose_absence_gains_by_more_than_chance_is_switched_off():
    model, data = _trained(_content(image_signal=1.0, items=24), items=24)
    image = model.candidate_tower.content.vectors["image"]
    image.assign(30 * np.random.default_rng(2).normal(size=image.numpy().shape))  # covers unlike any trained on
    report = select_modalities(model, data)
    assert report["off"] == ["image"] and model.candidate_tower.modality_keep.numpy().tolist() == [True, False, False]
    assert report["without_image"]["warm"] > report["without_text"]["warm"]  # the text still pays
