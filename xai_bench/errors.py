"""Errors a user can act on. Each message names the thing, what was expected and the fix."""

from __future__ import annotations

__all__ = ["XaiBenchError", "ConfigError", "FeatureError", "ModelError", "DataValidationError", "OutputError"]


class XaiBenchError(Exception):
    """Base class of every error xai-bench raises for bad input or a failing dependency."""


class ConfigError(XaiBenchError, ValueError):
    """A configuration value is out of range or of the wrong type (also a ValueError)."""


class FeatureError(XaiBenchError, ValueError):
    """The prompt cannot be turned into features (empty, too long, bad template)."""


class ModelError(XaiBenchError):
    """A model could not be reached, is unknown, or answered unusably."""


class OutputError(XaiBenchError):
    """An output folder or file cannot be created or written (found before any model call)."""


class DataValidationError(XaiBenchError):
    """A data set failed validation; ``report`` names the failing rows."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
