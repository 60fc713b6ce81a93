"""Errors a user can act on. The CLI prints their message and exits non-zero, never a traceback."""


class AvrecError(Exception):
    """Base class: the message alone must tell the user what is wrong and where."""


class DataError(AvrecError):
    """Input data is unreadable or has too many bad rows."""


class ValidationError(AvrecError):
    """The pipeline's data validation found anomalies; training did not start."""


class ModelNotFoundError(AvrecError):
    """No pushed model where one was expected."""
