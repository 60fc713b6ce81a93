"""The Tuner's module: `tuner_fn` searches the two-tower model's hyperparameters with keras-tuner.

The search space is around the configured ModelConfig: embedding size, temperature, history length (at most the
configured one, which is how many items Transform keeps), learning rate and dropout. Every trial trains on the
training examples and is scored on the validation slice (each sampled user's latest training example, later than
what that user trains on), never on the evaluation split. The Trainer then trains with the best values (its
`hyperparameters` input); their names are ModelConfig fields.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import keras_tuner
import tensorflow as tf
from tfx.components.tuner.component import TunerFnResult

from avrec.config import ModelConfig, TuneConfig
from avrec.errors import AvrecError
from avrec.models import training, validation
from avrec.progress import progress

TUNE_KEY = "tune"


def search_space(hp: keras_tuner.HyperParameters, base: ModelConfig) -> ModelConfig:
    lengths = sorted({max(1, base.history_length // 4), max(1, base.history_length // 2), base.history_length})
    return base.replace(
        embedding_dim=hp.Choice("embedding_dim", sorted({32, 64, 128, base.embedding_dim})),
        temperature=hp.Choice("temperature", sorted({0.5, 1.0, 2.0, base.temperature})),
        history_length=hp.Choice("history_length", lengths),
        learning_rate=hp.Float("learning_rate", 3e-4, 3e-3, sampling="log"),
        attention_dropout=hp.Choice("attention_dropout", sorted({0.1, 0.2, 0.4, base.attention_dropout})))


class TrialLog(tf.keras.callbacks.Callback):
    """One progress line per trial epoch."""

    def __init__(self):
        super().__init__()
        self.trial = 0

    def __deepcopy__(self, memo):
        return self  # one log, counting trials across keras-tuner's per-trial copies

    def on_train_begin(self, logs=None):
        self.trial += 1

    def on_epoch_end(self, epoch, logs=None):
        progress.info("trial %d, epoch %d: validation Recall@10 %.4f", self.trial, epoch + 1,
                      (logs or {}).get(validation.MONITOR, float("nan")))


class TrialFit(keras_tuner.Tuner):
    """A trial builds and fits the TFRS model itself and returns its best validation Recall@10. keras-tuner's own
    trial loop accepts only models of the Keras it imports (Keras 3 where installed), while TFRS models are legacy
    Keras 2."""

    def run_trial(self, trial, *args, **kwargs):
        model = self.hypermodel.build(trial.hyperparameters)
        history = model.fit(*args, **kwargs).history
        return {validation.MONITOR: max(history[validation.MONITOR])}


class RandomTrials(keras_tuner.RandomSearch, TrialFit):
    pass


class HyperbandTrials(keras_tuner.Hyperband, TrialFit):
    pass


def tuner_fn(fn_args) -> TunerFnResult:
    base = ModelConfig.from_dict(fn_args.custom_config["model"])
    tune = TuneConfig.from_dict(fn_args.custom_config[TUNE_KEY])
    data = training.prepare(fn_args, base)
    held_out = data.validation(base)
    if held_out is None:
        raise AvrecError("the Tuner needs a validation slice: validation_examples is 0 or no user has two training "
                         "examples")
    objective = keras_tuner.Objective(validation.MONITOR, direction="max")

    def build(hp):
        return training.build_model(data, search_space(hp, base))

    common = dict(objective=objective, directory=fn_args.working_dir, project_name="avrec", overwrite=True,
                  seed=tune.seed)
    tuner = (HyperbandTrials(build, max_epochs=tune.epochs, hyperband_iterations=1, **common)
             if tune.algorithm == "hyperband" else RandomTrials(build, max_trials=tune.trials, **common))
    callbacks = [*validation.stopping(held_out, base, restore_best=False), TrialLog()]  # the log reads the score
    return TunerFnResult(tuner=tuner, fit_kwargs={
        "x": data.train(base), "epochs": tune.epochs, "steps_per_epoch": data.steps_per_epoch(base),
        "callbacks": callbacks, "verbose": 0})
