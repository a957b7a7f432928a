"""Errors a user can act on. Each message names the thing, what was expected and the fix."""

from __future__ import annotations

__all__ = ["XaiBenchError", "ModelError", "DataValidationError"]


class XaiBenchError(Exception):
    """Base class of every error xai-bench raises for bad input or a failing dependency."""


class ModelError(XaiBenchError):
    """A model could not be reached, is unknown, or answered unusably."""


class DataValidationError(XaiBenchError):
    """A data set failed validation; ``report`` names the failing rows."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
