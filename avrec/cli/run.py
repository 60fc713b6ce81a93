"""`avrec run`: the whole TFX pipeline on a dataset, from its files to a pushed model and a metrics report."""
from __future__ import annotations

import argparse

from avrec.cli.options import add_output, item_list
from avrec.cli.settings import add_settings, with_settings
from avrec.config import (LOSSES, TUNER_ALGORITHMS, USER_TOWERS, DataConfig, EvalConfig, ModelConfig, PipelineConfig,
                          RunConfig, TuneConfig, default)


def _holdout(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {value!r}") from None


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser("run", help="run the TFX pipeline: data -> validation -> training -> evaluation "
                                             "-> push")
    add_pipeline_options(parser)
    parser.add_argument("--runner", choices=("local", "beam"), default=default(PipelineConfig, "runner"),
                        help="TFX's LocalDagRunner or BeamDagRunner on this machine (default: %(default)s; "
                             "`avrec compile --runner kubeflow` for Kubeflow / Vertex)")
    return parser


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """The options of a pipeline run, shared by run, retrain, schedule and compile."""
    parser.add_argument("--data", default=default(DataConfig, "source"),
                        help="embedded dataset name or a path (default: %(default)s)")
    parser.add_argument("--format", default=default(DataConfig, "format"),
                        help="movielens-csv | movielens-100k | movielens-1m | generic | auto (default: %(default)s)")
    parser.add_argument("--holdout-last", type=_holdout, default=default(DataConfig, "holdout_last"),
                        help="each user's latest N interactions (or a fraction) held out for evaluation "
                             "(default: %(default)s)")
    add_output(parser)
    parser.add_argument("--epochs", type=int, default=default(ModelConfig, "epochs"),
                        help="at most this many training epochs; training stops earlier when Recall@10 on a "
                             "validation slice of the training examples stops improving (default: %(default)s)")
    parser.add_argument("--max-bad-fraction", type=float, default=default(DataConfig, "max_bad_fraction"),
                        help="stop if more than this fraction of a file's rows are bad (default: %(default)s)")
    parser.add_argument("--cold-items", type=float, default=default(DataConfig, "cold_item_fraction"),
                        metavar="FRACTION",
                        help="cold-start evaluation: hold this share of items out of training entirely, e.g. 0.1")
    parser.add_argument("--no-content", action="store_true",
                        help="train the id + categorical model without pretrained content embeddings")
    parser.add_argument("--loss", choices=LOSSES, default=default(ModelConfig, "loss"),
                        help="full_softmax: each target against the whole catalog; in_batch: against the batch, "
                             "log-Q corrected; auto: full softmax while catalog items x training examples is within "
                             "ModelConfig.full_softmax_budget "
                             "(default: %(default)s)")
    parser.add_argument("--user-tower", choices=USER_TOWERS, default=default(ModelConfig, "user_tower"),
                        help="how the query tower reads the history: its mean and latest item, or self-attention "
                             "over its order (default: %(default)s)")
    parser.add_argument("--per-example", action="store_true",
                        help="train each example's target alone, not each window of targets at every position "
                             "at once (the default, as SASRec trains: far cheaper epochs for long histories)")
    parser.add_argument("--fusion", choices=("gated", "alpha"), default=default(ModelConfig, "fusion"),
                        help="how the item tower fuses content: learned gates or alpha * text + (1 - alpha) * "
                             "vision (default: %(default)s)")
    parser.add_argument("--max-warm-drop", type=float, default=default(ModelConfig, "content_path_max_warm_drop"),
                        metavar="FRACTION",
                        help="the content path may cost warm targets' validation Recall@10, @50 and NDCG@10 at most this "
                             "relative drop for what it gains on cold and few-interaction items; larger surfaces "
                             "more new items (default: %(default)s)")
    parser.add_argument("--finetune-text", action="store_true",
                        help="fine-tune the text encoder end to end (slow on CPU: meant for a GPU)")
    parser.add_argument("--learning-rate", type=float, default=default(ModelConfig, "learning_rate"),
                        help="training learning rate (default: %(default)s)")
    parser.add_argument("--pretrain", type=int, nargs="?", const=3, default=default(ModelConfig, "pretrain_epochs"),
                        metavar="EPOCHS",
                        help="first train the item embeddings and the history encoder on behaviour alone for EPOCHS "
                             "epochs (3 when no number is given), then the whole model")
    parser.add_argument("--tune", action="store_true",
                        help="add TFX's Tuner: a keras-tuner search over embedding size, temperature, history length, "
                             "learning rate and dropout, scored on the validation slice; the best values train")
    parser.add_argument("--tune-trials", type=int, default=8, metavar="N",
                        help="with --tune: the number of trials (default: %(default)s)")
    parser.add_argument("--tune-algorithm", choices=TUNER_ALGORITHMS, default=default(TuneConfig, "algorithm"),
                        help="with --tune: keras-tuner's search (default: %(default)s)")
    parser.add_argument("--span-window", type=int, default=default(DataConfig, "span_window"),
                        help="with span folders: train on the latest N spans (default: %(default)s)")
    parser.add_argument("--span-eval-fraction", type=float, default=default(DataConfig, "span_eval_fraction"),
                        help="with span folders: the newest span's latest share of interactions evaluated "
                             "(default: %(default)s)")
    parser.add_argument("--from-scratch", action="store_true",
                        help="with span folders: train from scratch instead of warm-starting from the latest "
                             "blessed model")
    parser.add_argument("--keep-versions", type=int, default=default(PipelineConfig, "keep_versions"),
                        help="the serving directory keeps the newest N versions (default: %(default)s)")
    parser.add_argument("--baselines", type=item_list, default=list(default(EvalConfig, "baselines")),
                        help="comma-separated baselines scored beside the model (default: "
                             f"{','.join(default(EvalConfig, 'baselines'))})")
    parser.add_argument("--group-events", type=int, default=default(PipelineConfig, "group_events"), metavar="N",
                        help="on Beam's DirectRunner, which holds a shuffle in memory, TimeSplit groups users in "
                             "shards of at most N events, one after another (0: one shard, for Dataflow, Flink or "
                             "Spark; default: %(default)s)")
    parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                        help="an argument for every Beam step, e.g. --beam-arg=--runner=DataflowRunner (repeat; "
                             "default: DirectRunner, multi-processing, one worker per core)")
    add_settings(parser)


def config_from_args(args: argparse.Namespace, runner: str | None = None) -> RunConfig:
    data = DataConfig(source=args.data, format=args.format, holdout_last=args.holdout_last,
                      max_bad_fraction=args.max_bad_fraction, cold_item_fraction=args.cold_items,
                      span_window=args.span_window, span_eval_fraction=args.span_eval_fraction)
    model = ModelConfig(epochs=args.epochs, content=not args.no_content, fusion=args.fusion, loss=args.loss,
                        user_tower=args.user_tower, every_position=not args.per_example,
                        finetune_text=args.finetune_text,
                        learning_rate=args.learning_rate, warm_start=not args.from_scratch,
                        pretrain_epochs=args.pretrain, content_path_max_warm_drop=args.max_warm_drop)
    tune = TuneConfig(trials=args.tune_trials if args.tune else 0, algorithm=args.tune_algorithm)
    pipeline = PipelineConfig(runner=runner or getattr(args, "runner", "local"), beam_args=tuple(args.beam_arg),
                              keep_versions=args.keep_versions, group_events=args.group_events,
                              **({"image": args.image} if "image" in args else {}))
    return with_settings(RunConfig(output_dir=args.output, model_name=args.model_name, data=data, model=model,
                                   pipeline=pipeline, eval=EvalConfig(baselines=tuple(args.baselines)), tune=tune),
                         args.settings)


def run(args: argparse.Namespace) -> int:
    from avrec.pipeline.job import execute

    execute(config_from_args(args))
    return 0
