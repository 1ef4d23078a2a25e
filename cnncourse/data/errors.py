"""The one exception type of the data layer."""
from __future__ import annotations

from ..errors import CourseError


class DataError(CourseError, RuntimeError):
    """A dataset could not be found, verified or prepared; the message says what to do."""


class UnsafeArchiveError(DataError):
    """An archive holds a member that would land outside its folder (``..``, absolute path, link)."""
