"""Errors raised for bad input.  The CLI turns every :class:`EIEError` into one line on
stderr and exit code 2, and writes no output file.

Messages name the field, the value and the fix, in the shape
``"<field> must be <rule>, not <value>"``.
"""

__all__ = ["EIEError", "ConfigError", "InputError", "CapacityError", "first_repeat"]


class EIEError(ValueError):
    """Base class: bad input from the user (file, option or configuration)."""


class ConfigError(EIEError):
    """An :class:`eie.config.EIEConfig` field or a configuration file is invalid."""


class InputError(EIEError):
    """A layer, activation or table file is malformed."""


class CapacityError(EIEError):
    """A compiled layer does not fit the on-chip memories of the configuration."""


def first_repeat(values):
    """The first of ``values`` (hashable) that occurs more than once, or None: what a "named
    twice" message names (option lists, spec axes, workload, layer and JSON key names)."""
    from collections import Counter
    values = list(values)
    counts = Counter(values)
    return next((v for v in values if counts[v] > 1), None)
