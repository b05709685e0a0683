"""The exceptions Switchboard raises on bad input. Each message names the offending field, file or id."""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base: a problem the user can fix, reported as a one-line message (the CLI exits 2, the API answers 4xx)."""


class ConfigError(SwitchboardError):
    """A configuration file or record is invalid; the message names the file, key and reason."""


class AcdError(SwitchboardError):
    """An event the ACD cannot accept in its current state (unknown id, illegal transition). The ACD's state is
    unchanged when this is raised."""


class JournalError(SwitchboardError):
    """A journal or snapshot file is unreadable beyond a torn last frame (corruption, wrong format)."""


class StoreError(SwitchboardError):
    """A store operation refused bad input (empty or malformed identity, unknown customer or ticket, a ticket status
    transition that is not allowed); the message names the field or reference. Nothing was written."""


class StoreUnavailable(StoreError):
    """The database failed under a store call (the connection lost, a lock not granted in time), whatever its
    input; the message names the store. Trying the call again later is the remedy. The call was rolled back,
    unless the connection was lost during its commit, when it may have been applied."""
