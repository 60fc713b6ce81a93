"""What runs.json keeps of a retrain's training: the epochs actually trained and the one whose weights were kept."""
from avrec.pipeline.retraining import training_record


def _epoch(phase: str, number: int, recall):
    return {"phase": phase, "epoch": number, "loss": 1.0, "val_recall@10": recall, "seconds": 1.0}


def test_training_record_counts_trained_epochs_and_names_the_kept_one():
    document = {"training": {"epochs": [_epoch("pretrain", 1, None), _epoch("pretrain", 2, None),
                                        _epoch("train", 1, 0.10), _epoch("train", 2, 0.14),
                                        _epoch("train", 3, 0.12), _epoch("train", 4, 0.13)],
                             "kept_epoch": 4}}
    # Stopped early after 4 of however many configured epochs; the last was kept, epoch 2 not beating it by more
    # than chance. Pretraining epochs are not training epochs.
    assert training_record(document) == {"epochs": 4, "kept_epoch": 4, "val_recall@10": [0.10, 0.14, 0.12, 0.13]}


def test_training_record_without_a_validation_slice_has_no_recalls():
    document = {"training": {"epochs": [_epoch("train", 1, None), _epoch("train", 2, None)], "kept_epoch": 2}}
    assert training_record(document) == {"epochs": 2, "kept_epoch": 2, "val_recall@10": [None, None]}
