"""The Tuner's best hyperparameters as the Trainer reads them."""
from avrec.config import ModelConfig
from avrec.models.training import tuned


def test_tuned_values_replace_the_config_and_hyperband_bookkeeping_is_ignored():
    best = {"values": {"embedding_dim": 128, "learning_rate": 0.002, "tuner/epochs": 4, "tuner/bracket": 1}}
    config = tuned(ModelConfig(epochs=7), best)
    assert (config.embedding_dim, config.learning_rate, config.epochs) == (128, 0.002, 7)
    assert tuned(ModelConfig(), None) == ModelConfig()
