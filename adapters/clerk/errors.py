"""Errors of the clerk app; ``adapters.clerk.routes`` maps each to an HTTP status."""

from __future__ import annotations


class ClerkError(Exception):
    """Bad input from a clerk (400): the message names the value and what was expected."""


class NotFound(ClerkError):
    """No such upload, job or version (404)."""


class Conflict(ClerkError):
    """The state changed under the request: a newer version, a finished job (409)."""


class StorageFull(ClerkError):
    """No room for a recording: the disk is full or the upload quota is used up (507)."""


class JobCancelled(Exception):
    """Raised inside a running job's progress callback once a clerk cancelled it."""


def http_status(exc: ClerkError) -> int:
    """The HTTP status of a clerk error."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, StorageFull):
        return 507
    return 400
