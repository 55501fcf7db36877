"""Errors the harness raises for bad input: each message names the thing, the value and the fix."""


class HarnessError(Exception):
    """Base class: a problem the user can fix, reported without a traceback by the CLI."""


class ConfigError(HarnessError, ValueError):
    """A case, profile or option value is invalid."""


class DataError(HarnessError):
    """A dataset is missing, truncated, fails its checksum or is not in the expected format."""


class BaselineError(HarnessError):
    """A baseline file cannot be read or does not match the schema."""


class FrameworkMissing(HarnessError, ImportError):
    """A framework the case needs is not installed."""
