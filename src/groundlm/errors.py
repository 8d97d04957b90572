"""How errors are told apart: a mistake in a user's input, or a bug.

* :class:`UserError`: bad input (a missing file, a malformed line, an unknown option value); the CLI prints it on
  one line, without a traceback, and exits with status 2.
* ``ValueError`` raised by groundlm's own checks is the library's plain way of refusing bad input (the inference
  layer and the models raise it, for the CLI or a server to word), and ``FileNotFoundError`` names a missing path;
  the CLI words both the same way.
* :class:`InternalError`: a broken invariant of groundlm itself (placeholder counts that do not match, a batch the
  collator should never have built): a bug, shown with its traceback. So is any exception raised inside a
  third-party library.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


class UserError(Exception):
    """Bad input from the user: a missing file, a malformed line, an unknown option value."""


class InternalError(ValueError):
    """A broken invariant of groundlm (a bug, not bad input). A ``ValueError`` so that callers that guard a call
    with ``except ValueError`` still see it; the CLI never words it as a user error."""


def is_user_error(error: BaseException) -> bool:
    """True for errors the CLI reports on one line: a :class:`UserError`, a ``FileNotFoundError``, or a
    ``ValueError`` raised by a check in groundlm's own code (not an :class:`InternalError`, and not one raised inside
    another library, which would be a bug in how groundlm called it)."""
    if isinstance(error, (UserError, FileNotFoundError)):
        return True
    if isinstance(error, InternalError) or not isinstance(error, ValueError):
        return False
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _PACKAGE in Path(tb.tb_frame.f_code.co_filename).resolve().parents
