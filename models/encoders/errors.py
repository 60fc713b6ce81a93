"""The error raised for encoder problems a user can fix (missing weights, a bad handle, malformed input)."""
from avrec.errors import AvrecError


class EncoderError(AvrecError):
    """An encoder cannot be built, loaded or applied; the message says which one and why."""
