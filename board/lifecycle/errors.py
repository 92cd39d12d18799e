"""What can go wrong with the objects the lifecycle reads: each names the object and the fault."""

from __future__ import annotations


class LifecycleError(Exception):
    """Base class: a lifecycle step found the log in a state it must not paper over."""


class CorruptObject(LifecycleError):
    """An object is there but is not what its manifest says (or not readable at all)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"corrupt object {key}: {reason}")
        self.key = key
        self.reason = reason

    def __reduce__(self):  # raised in a restore worker process, re-raised in its parent
        return (type(self), (self.key, self.reason))


class MissingObject(LifecycleError):
    """An object a manifest or pointer names is not in the log."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"missing object {key}: {reason}")
        self.key = key
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.key, self.reason))


class ArchivedObjects(LifecycleError):
    """A restore would need objects that sit in a cold storage class (Glacier)."""

    def __init__(self, keys: list[str], how: str) -> None:
        listed = "\n  ".join(keys)
        super().__init__(
            f"{len(keys)} object(s) needed for this restore are archived and must be restored first:\n  {listed}\n{how}"
        )
        self.keys = keys
        self.how = how

    def __reduce__(self):
        return (type(self), (self.keys, self.how))
