"""Generations: how a store is emptied, rebuilt beside itself, or moved to a new data model.

Riak cannot list or truncate a bucket cheaply, so a store never empties one.
Its data lives in numbered *generations* (a Riak bucket, an SQLite table) and
one small pointer object names the current one:

    current       the generation every reader and writer uses
    highest       the highest generation ever allocated (a new one is highest + 1)
    clean_below   every generation below this one has been removed
    dual          a staged generation every writer also writes to (0: none)
    abandoned     generations up to this one were given up: no dual write into them

``flush()`` allocates a new, empty generation and makes it current in one
write; ``staging()`` allocates one without making it current, so that
``rehydrate --replace`` can fill it while the old one keeps serving, and
``promote()`` switches to it once it is complete. Old generations are removed
later, in the background (``retire()``), generation by generation.

The switch of a rebuild has two phases, because other processes trust a
pointer they read for up to ``generation_ttl`` seconds. First the staged
generation is marked ``dual``: every writer that sees it applies its writes to
the staged generation first and then to the current one, which readers still
use. Once every cached pointer must have expired, a last catch-up applies to
the staged generation what was committed until then (what writers still
holding the old pointer applied to the current one only), and only then does
``promote()`` switch the readers. From then on whatever a reader saw in the
old generation is also in the new one. Dual write ends by itself when the
staged generation becomes current, or when it is ``abandoned`` (a rebuild
that failed).

Every field only grows, so the pointer is a join-semilattice (field-wise max)
and Riak siblings of it merge without losing a switch. Pointers are kept per
data-model version (the ``model`` option): code of model 3 never reads model
2's generations, so a deployment moves to a new model by building the new
model's first generation beside the running one.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields

MODEL_RE = re.compile(r"^[A-Za-z0-9]{1,16}$")


@dataclass(frozen=True, slots=True)
class Pointer:
    current: int = 1
    highest: int = 1
    clean_below: int = 1
    dual: int = 0
    abandoned: int = 0

    def join(self, other: Pointer) -> Pointer:
        return Pointer(*(max(getattr(self, f.name), getattr(other, f.name)) for f in fields(Pointer)))

    def allocated(self) -> Pointer:
        """The pointer once a new generation (highest + 1) is allocated."""
        return self.join(Pointer(highest=self.highest + 1))

    def promoted(self, generation: int) -> Pointer:
        return self.join(Pointer(generation, generation))

    def cleaned(self, below: int) -> Pointer:
        return self.join(Pointer(clean_below=below))

    def dual_writing(self, generation: int) -> Pointer:
        """The pointer once writers are asked to write also to the staged generation."""
        return self.join(Pointer(dual=generation))

    def abandoning(self, generation: int) -> Pointer:
        """The pointer once a staged generation is given up (its rebuild failed)."""
        return self.join(Pointer(abandoned=generation))

    def dual_target(self) -> int | None:
        """The staged generation writers write to besides the current one, if any."""
        return self.dual if self.dual > max(self.current, self.abandoned) else None

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
        # Pointers written before a field existed lack it: it then holds its default.
        return cls(*(int(raw.get(f.name, f.default)) for f in fields(cls)))


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
