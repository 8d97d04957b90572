"""The error type for mistakes in a user's input (files, arguments); the CLI prints these without a traceback."""


class UserError(Exception):
    """Bad input from the user: a missing file, a malformed line, an unknown option value."""
