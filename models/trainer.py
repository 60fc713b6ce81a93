"""The Trainer's module: `run_fn` trains the two-tower model on Transform's output and exports the Recommender.

The exported index covers every catalog item, not only those with interactions in training. With the Tuner in the
pipeline, its best hyperparameters replace the configured values. With content, a pretrained modality whose absence
gains on the validation slice by more than chance is switched off (models.modality_selection). Each epoch's loss,
validation Recall@10 and seconds, the epoch kept, and the modality selection's scores, go to `history.json` in the
model run directory (the run's report plots them).
"""
from __future__ import annotations

import json
import os
import time

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf
from absl import logging

from avrec.config import ModelConfig
from avrec.models import training, validation
from avrec.models.content_path_fit import describe, fit_content_path
from avrec.models.encoders.embedders import load_text_embedder
from avrec.models.export import Recommender, export
from avrec.models.modality_selection import select_modalities
from avrec.models.warm_start import warm_start
from avrec.progress import progress

HISTORY_FILE = "history.json"


class EpochLog(tf.keras.callbacks.Callback):
    """One progress line per epoch (its loss, validation Recall@10, learning rate and wall time), and every epoch kept
    in `epochs` (phase, loss, val_recall@10, seconds, learning_rate) for history.json."""

    def __init__(self, phase: str, epochs: list):
        super().__init__()
        self.phase, self.epochs = phase, epochs

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.monotonic()
        self._learning_rate = float(tf.keras.backend.get_value(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.monotonic() - self._started
        self.epochs.append({"phase": self.phase, "epoch": epoch + 1, "loss": float(logs["loss"]),
                            validation.MONITOR: logs.get(validation.MONITOR), "seconds": round(seconds, 2),
                            "learning_rate": self._learning_rate})
        progress.info("%sepoch %d/%d: loss %.4g%s (learning rate %.3g, %.0f s)",
                      "pretraining " if self.phase == "pretrain" else "", epoch + 1, self.params["epochs"],
                      logs["loss"],
                      f", validation Recall@10 {logs[validation.MONITOR]:.4f}" if validation.MONITOR in logs else "",
                      self._learning_rate, seconds)


def pretrain(model, data: training.TrainingData, config: ModelConfig, epochs: list) -> None:
    """Next-item prediction on behaviour alone (item ids and the history encoder; no content, no user ids), before
    the whole model trains from where it leaves off."""
    model.behaviour_only(True)
    training.compile_model(model, config)
    model.fit(data.train(config), epochs=config.pretrain_epochs, steps_per_epoch=data.steps_per_epoch(config),
              verbose=0, callbacks=[EpochLog("pretrain", epochs)])
    model.behaviour_only(False)
    training.compile_model(model, config)


def fit(model, data: training.TrainingData, config: ModelConfig, held_out: tf.data.Dataset | None,
        log_dir: str | None = None) -> tuple[list[dict], int]:
    """Trains (after pretraining, when configured) until Recall@10 on `held_out` (the validation slice) stops
    improving; returns the epochs and the training epoch whose weights were kept (1-based; without a slice, the
    last)."""
    epochs = []
    if config.pretrain_epochs:
        pretrain(model, data, config, epochs)
    callbacks = [EpochLog("train", epochs)]
    stopping = validation.stopping(held_out, config, restore_best=True) if held_out is not None else []
    callbacks[:0] = stopping
    if log_dir:
        callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    model.fit(data.train(config), epochs=config.epochs, steps_per_epoch=data.steps_per_epoch(config), verbose=0,
              callbacks=callbacks)
    trained = sum(epoch["phase"] == "train" for epoch in epochs)
    kept = stopping[-1].kept_epoch if stopping else trained
    if stopping:
        progress.info("kept epoch %d's weights (%s)", kept, "the last: no epoch beat it on the validation slice by "
                      "more than chance" if kept == trained else "they beat the last epoch's by more than chance")
    return epochs, kept


def run_fn(fn_args) -> None:
    config = training.tuned(ModelConfig.from_dict(fn_args.custom_config["model"]), fn_args.hyperparameters)
    tf.keras.utils.set_random_seed(config.seed)
    data = training.prepare(fn_args, config)
    cost = data.catalog.size * data.examples  # a full-softmax epoch's work
    logging.info("Training on %d examples, vocabularies %s", data.examples, data.sizes)
    progress.info("training on %d examples, stopping on a validation slice of %d (each one a user's latest)",
                  data.examples, data.held)
    progress.info("reading %s", f"{data.windows} windows at every position, {data.windows_per_batch(config)} a batch"
                  if data.every_position(config) else "each example's target alone" + (
                      f" (a window of {data.widest} targets is longer than history_length {config.history_length} + 1)"
                      if config.every_position and data.windows else ""))
    progress.info("loss: %s", f"full softmax over the catalog's {data.catalog.size} items ({cost:.2g} item-examples "
                  "an epoch)" if config.uses_full_softmax(data.catalog.size, data.examples) else
                  f"in-batch softmax with log-Q correction (full softmax would cost {cost:.2g} item-examples an "
                  f"epoch; full_softmax_budget={config.full_softmax_budget:.2g}, loss={config.loss})")
    if fn_args.hyperparameters:
        progress.info("hyperparameters from the Tuner: %s", fn_args.hyperparameters["values"])
    model = training.build_model(data, config)
    if config.warm_start and fn_args.base_model:
        model.compute_loss(next(iter(data.train(config))))  # builds every weight before the base model's are copied
        warm_start(model, fn_args.base_model, {name: data.tft_output.vocabulary_by_name(name)
                                               for name in training.VOCABULARIES})
    held_out = data.validation(config)  # one slice, read once, for training and for what is fitted after it
    epochs, kept_epoch = fit(model, data, config, held_out, fn_args.model_run_dir)
    history = {"epochs": epochs, "kept_epoch": kept_epoch, "config": config.to_dict()}
    content_path = None
    if data.content is not None and held_out is not None:
        history["modalities"] = selected = select_modalities(model, held_out)
        progress.info("validation Recall@10 warm / cold-read with the modalities kept %.4f / %.4f%s",
                      selected["all"]["warm"], selected["all"]["cold"],
                      f"; switched off (their absence gained by more than chance): {', '.join(selected['off'])}"
                      if selected["off"] else "")
        if config.content_path:
            content_path, history["content_path"] = fit_content_path(
                model, held_out, data.counts, config.content_path_max_warm_drop, reads=config.content_path_cold_read,
                text_dim=config.content_path_text_dim)
            progress.info("content path: %s", describe(history["content_path"]))
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), "w") as handle:
        json.dump(history, handle, indent=2)

    encoders = data.encoders
    text_encoder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor) if encoders else None
    recommender = Recommender(model, data.tft_output.transform_features_layer(), data.tft_output.raw_feature_spec(),
                              data.titles, config.top_k, content_path)
    export(recommender, fn_args.serving_model_dir, text_encoder)
