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
    transition that is not allowed); the message names the field or reference. Nothing was written. Also the
    database failing under a call (a lost connection, a lock not granted in time): the message names the store,
    and the call can be tried again."""
