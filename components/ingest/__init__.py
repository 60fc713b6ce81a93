"""Ingestion inside the pipeline, on Beam: source files of one span become canonical events and the catalog
(example_gens.py), and the events of a window of spans become the time-split examples with history features
(time_split.py)."""
