"""The one exception type for malformed input files."""


class FormatError(Exception):
    """A task, suite or result file that cannot be read; the message is one line for the user."""
