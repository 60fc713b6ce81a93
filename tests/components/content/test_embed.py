"""The embedding job: modalities, parity with the encoders, the content-hash cache, media problems."""
import numpy as np
import pytest
from PIL import Image

from avrec.components.content.embed import embed_catalog
from avrec.errors import DataError
from avrec.models.encoders.embedders import load_audio_embedder, load_image_embedder, load_text_embedder
from tests.support.encoders import cosine
from tests.support.media import PRESENT, SONG_SECONDS, TEXTS, catalog_frame, catalog_rows, song


def _cosine(a, b):
    return float(cosine(np.asarray(a)[None], np.asarray(b)[None])[0])


@pytest.mark.slow
def test_modalities_are_recorded_and_embeddings_equal_the_encoders(runs, media):
    content = runs["first"]
    assert content.item_id.tolist() == [b"m1", b"m2", b"m3", b"m4", b"m5", b"m6"]
    np.testing.assert_array_equal(content.present, PRESENT)
    assert content.text.shape == (6, 384) and content.image.shape == (6, 1280) and content.audio.shape == (6, 200)
    for modality, column in (("text", 0), ("image", 1), ("audio", 2)):
        absent = ~content.present[:, column]
        assert not getattr(content, modality)[absent].any(), f"{modality} rows of absent items must be zero"

    texts = load_text_embedder()(TEXTS).numpy()
    for row, expected in enumerate(texts):
        assert _cosine(content.text[row], expected) >= 0.999, TEXTS[row]

    images = load_image_embedder()

    def embed(path):
        return images(np.asarray(Image.open(path).convert("RGB"))[None]).numpy()[0]

    sampled = np.mean([embed(media["frames"][i]) for i in (0, 2, 4)], axis=0)  # 3 of 5, evenly spread
    assert _cosine(content.image[1], embed(media["cover_a"])) >= 0.999
    assert _cosine(content.image[2], sampled) >= 0.999
    assert _cosine(content.image[3], (embed(media["cover_b"]) + sampled) / 2) >= 0.999
    assert _cosine(content.image[2], content.image[3]) < 0.99  # the cover counts

    # The WAV was written at 22.05 kHz in stereo; the reference is the same song computed directly at 16 kHz, mono.
    left, right = song(np.arange(int(16000 * SONG_SECONDS)) / 16000)
    reference = load_audio_embedder()(((left + right) / 2).astype(np.float32)[None]).numpy()[0]
    assert _cosine(content.audio[4], reference) >= 0.999


@pytest.mark.slow
def test_unusable_media_are_reported_and_the_item_keeps_its_text(runs, media):
    content = runs["first"]
    problems = {(p.item_id, p.modality, p.path): p.reason for p in content.report.problems}
    assert set(problems) == {("m5", "image", str(media["broken"])), ("m6", "image", str(media["missing"]))}
    assert problems[("m5", "image", str(media["broken"]))] == "cannot decode: not an image format Pillow reads"
    assert problems[("m6", "image", str(media["missing"]))] == "cannot read: No such file or directory"
    assert content.present[5].tolist() == [True, False, False] and content.present[4].tolist() == [True, False, True]
    warnings = [message for message in runs["log"] if "unusable" in message]
    assert len(warnings) == 2 and str(media["missing"]) in warnings[0] and str(media["broken"]) in warnings[0]


@pytest.mark.slow
def test_second_run_reuses_the_cache_and_a_changed_title_reencodes_only_that_item(runs, media):
    first, second = runs["first"], runs["second"]
    # Distinct inputs: 6 texts; cover a, cover b and frames 0, 2, 4 (shared by m3 and m4); one song.
    assert first.report.encoded == {"text": 6, "image": 5, "audio": 1}
    assert first.report.reused == {"text": 0, "image": 0, "audio": 0}
    assert second.report.encoded == {"text": 0, "image": 0, "audio": 0}
    assert second.report.reused == {"text": 6, "image": 5, "audio": 1}
    for modality in ("text", "image", "audio", "present"):
        np.testing.assert_array_equal(getattr(second, modality), getattr(first, modality))
    assert any("reused from the cache: {'text': 6, 'image': 5, 'audio': 1}" in m for m in runs["log"])

    catalog = catalog_rows(media)
    catalog[1]["title"] = "Cover Only, Renamed"
    third = embed_catalog(catalog_frame(catalog), runs["encoders"], runs["cache"])
    assert third.report.encoded == {"text": 1, "image": 0, "audio": 0}
    assert third.report.reused == {"text": 5, "image": 5, "audio": 1}
    renamed = load_text_embedder()(["Cover Only, Renamed. Drama"]).numpy()[0]
    assert _cosine(third.text[1], renamed) >= 0.999 and _cosine(third.text[1], first.text[1]) < 0.99
    np.testing.assert_array_equal(np.delete(third.text, 1, axis=0), np.delete(first.text, 1, axis=0))




def test_bad_catalogs_are_named(tmp_path, encoders):
    import pandas as pd

    with pytest.raises(DataError, match=r"lacks the column\(s\) \['title'\]"):
        embed_catalog(pd.DataFrame({"item_id": ["a"]}), encoders, str(tmp_path))
    with pytest.raises(DataError, match=r"repeats the item id\(s\) \['a'\]"):
        embed_catalog(catalog_frame([{"item_id": "a", "title": "A"}] * 2), encoders, str(tmp_path))
    with pytest.raises(DataError, match="no items to embed"):
        embed_catalog(catalog_frame([]).reindex(columns=["item_id", "title"]), encoders, str(tmp_path))
