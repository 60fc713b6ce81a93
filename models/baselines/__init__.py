"""Non-learned baselines on the same split as the model, scored by the same metric code (models/metrics.py).

Each baseline is fitted on the training interactions and then scores every catalog item for a batch of evaluation
histories; `ranks.baseline_ranks` turns those scores into target ranks, excluding the user's history exactly as the
model's evaluation does.
"""
