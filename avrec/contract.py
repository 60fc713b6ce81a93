"""The serving contract of an exported avrec model: what its signatures are called, what their tensors are called,
and how requests pad their lists. Export, clients, the CLI, test support and the pipeline's evaluation all read it
from here, and TF Serving sees exactly this.

  serving_default      user_id [B], history [B, T] (oldest first, right-padded with "") -> item_ids [B, K], scores [B, K]
  recommend            user_id, history, exclude [B, E] (items already shown or seen) -> item_ids, scores
  similar_items        item_id [B] -> item_ids [B, K], scores [B, K]   (the item itself excluded)
  item_embeddings      item_id [B] -> embedding [B, D]
  item_titles          item_id [B] -> title [B]                         ("" for an unknown item)
  search_by_embedding  query_embedding [B, Dt] -> item_ids, scores      (models with content embeddings only)
  evaluate             examples [B] (serialized tf.Examples) -> rank [B], future_rank [B]   (the Evaluator's input)

A model with content embeddings carries its text encoder beside it, in TEXT_ENCODER_DIR: a SavedModel whose graph
file is renamed TEXT_ENCODER_GRAPH (TFX's Pusher copies no other saved_model.pb), text [B] -> embedding [B, Dt].
"""
from avrec import features as F

SERVING_DEFAULT = "serving_default"
RECOMMEND = "recommend"
SIMILAR_ITEMS = "similar_items"
ITEM_EMBEDDINGS = "item_embeddings"
ITEM_TITLES = "item_titles"
SEARCH_BY_EMBEDDING = "search_by_embedding"
EVALUATE = "evaluate"

# Inputs.
USER_ID = F.USER_ID
HISTORY = F.HISTORY
EXCLUDE = "exclude"
ITEM_ID = F.ITEM_ID
QUERY_EMBEDDING = "query_embedding"
EXAMPLES = "examples"
TEXT = "text"
# Outputs.
ITEM_IDS = "item_ids"
SCORES = "scores"
EMBEDDING = "embedding"
TITLE = "title"
RANK = "rank"
FUTURE_RANK = "future_rank"


def ablation_rank(modality: str) -> str:
    """`evaluate`'s output: the target's rank with one pretrained modality toggled (off if the model uses it, on if
    its Trainer switched it off)."""
    return f"rank_toggled_{modality}"


PADDING = ""  # pads list inputs to equal length; an empty list is sent as one PADDING
DEFAULT_TOP_K = 100

TEXT_ENCODER_DIR = "assets.extra/text_encoder"
TEXT_ENCODER_GRAPH = "encoder_graph.pb"
