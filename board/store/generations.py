"""Generations: how a store is emptied, rebuilt beside itself, or moved to a new data model.

Riak cannot list or truncate a bucket cheaply, so a store never empties one.
Its data lives in numbered *generations* (a Riak bucket, an SQLite table) and
one small pointer object names the current one:

    current       the generation every reader and writer uses
    highest       the highest generation ever allocated (a new one is highest + 1)
    clean_below   every generation below this one has been removed

``flush()`` allocates a new, empty generation and makes it current in one
write; ``staging()`` allocates one without making it current, so that
``rehydrate --replace`` can fill it while the old one keeps serving, and
``promote()`` switches to it once it is complete. Old generations are removed
later, in the background (``retire()``), generation by generation.

Every field only grows, so the pointer is a join-semilattice (field-wise max)
and Riak siblings of it merge without losing a switch. Pointers are kept per
data-model version (the ``model`` option): code of model 3 never reads model
2's generations, so a deployment moves to a new model by building the new
model's first generation beside the running one.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

MODEL_RE = re.compile(r"^[A-Za-z0-9]{1,16}$")


@dataclass(frozen=True, slots=True)
class Pointer:
    current: int = 1
    highest: int = 1
    clean_below: int = 1

    def join(self, other: Pointer) -> Pointer:
        return Pointer(
            max(self.current, other.current),
            max(self.highest, other.highest),
            max(self.clean_below, other.clean_below),
        )

    def allocated(self) -> Pointer:
        """The pointer once a new generation (highest + 1) is allocated."""
        return Pointer(self.current, self.highest + 1, self.clean_below)

    def promoted(self, generation: int) -> Pointer:
        return self.join(Pointer(generation, generation, 1))

    def cleaned(self, below: int) -> Pointer:
        return self.join(Pointer(1, 1, below))

    def retired(self) -> range:
        """Generations to remove: those below current not removed yet (newer ones may be being built)."""
        return range(self.clean_below, self.current)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes | None) -> Pointer:
        if not data:
            return cls()
        raw = json.loads(data)
        return cls(int(raw["current"]), int(raw["highest"]), int(raw["clean_below"]))


def merge_pointers(values: list[bytes]) -> bytes:
    """The sibling resolver of the pointer object."""
    merged = Pointer.decode(values[0])
    for value in values[1:]:
        merged = merged.join(Pointer.decode(value))
    return merged.encode()


def check_model(model: str) -> str:
    if not MODEL_RE.match(model):
        raise ValueError(f"store model version {model!r}: use 1-16 letters or digits")
    return model
