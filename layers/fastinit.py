"""Fast constructors for the frozen model dataclasses, for the decoder's hot path.

Why: a frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` looked up by name, which costs about as much as decoding the
field did; a 1 MiB transfer builds six model objects per frame for 65,000 frames. The
constructor made here writes the slots through their descriptors instead (about half
the cost) and takes keyword arguments only, so a field added to the model can never
shift the values of the others. The object built is an ordinary instance of the class:
equal, hashable and frozen like one made by ``__init__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A keyword-only constructor for the slotted dataclass ``cls`` (defaults as in the
    class; a field with a default factory must be given)."""
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    parameters = []
    body = []
    for index, spec in enumerate(dataclasses.fields(cls)):
        namespace[f"_set{index}"] = cls.__dict__[spec.name].__set__
        if spec.default is not dataclasses.MISSING:
            namespace[f"_default{index}"] = spec.default
            parameters.append(f"{spec.name}=_default{index}")
        else:
            parameters.append(spec.name)
        body.append(f"    _set{index}(self, {spec.name})")
    source = (
        f"def make(*, {', '.join(parameters)}):\n    self = _new(_cls)\n"
        + "\n".join(body)
        + "\n    return self\n"
    )
    exec(source, namespace)  # generated from the dataclass's own field list only
    return namespace["make"]
