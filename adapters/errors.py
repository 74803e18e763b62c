"""Errors of the adapters layer (process management, configuration)."""

from __future__ import annotations


class AdapterError(Exception):
    """Base class of adapters' errors."""


class StackError(AdapterError):
    """A process of the stack could not be started, trained or reached."""
