"""Exceptions the CLI turns into one clear sentence and exit code 2."""


class InputError(Exception):
    """A file, setting or option the user gave cannot be used; the message says why."""
