"""The exceptions that mean "the user can fix this": the CLI prints their message without a traceback.

- ``CourseError``: the base; its message says what is wrong and what to do.
- ``SettingError``: an environment variable or argument holds a value the course cannot use.
- ``cnncourse.data.DataError`` (a ``CourseError`` too): a dataset could not be found, verified or prepared.
"""
from __future__ import annotations


class CourseError(Exception):
    """A problem with the input or the environment, not a bug; the message says what to do."""


class SettingError(CourseError, ValueError):
    """A setting (``CNNCOURSE_PROFILE``, ``CNNCOURSE_PRECISION``, a folder, a split size) is unusable."""


__all__ = ["CourseError", "SettingError"]
