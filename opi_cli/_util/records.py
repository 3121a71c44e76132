"""``@record``: a slotted dataclass made in a quarter of the time ``@dataclass`` takes.

opi's values (messages, events, session entries, settings) are ~190 dataclasses, and
``@dataclass(frozen=True, slots=True)`` compiles six generated methods per class: ~0.75 ms
each on CPython 3.11, a third of the time ``opi -p`` spends before its first request.
``@record`` gives the same class with one compiled method:

- :func:`dataclasses.dataclass` still reads the fields and makes the slots (so
  :func:`dataclasses.fields`, :func:`dataclasses.replace`, :func:`dataclasses.asdict`,
  ``__match_args__`` and ``__dataclass_fields__`` are the standard ones), but is asked for no
  methods;
- ``__init__`` is generated, as a dataclass's is (defaults, ``default_factory``,
  ``kw_only``), in one ``exec``; a frozen record's sets each slot through the slot's own
  descriptor (a third faster than the ``object.__setattr__`` a frozen dataclass calls);
- ``__eq__``, ``__hash__``, ``__repr__``, the frozen ``__setattr__``/``__delattr__`` (raising
  :class:`dataclasses.FrozenInstanceError`) and the pickling pair are shared functions that
  read the class's field names, with a dataclass's semantics: equality compares the
  ``compare`` fields of two instances of the same class, a frozen record hashes them, a
  mutable one is unhashable, ``repr`` shows the ``repr`` fields.

``@record`` is ``@dataclass(frozen=True, slots=True)``; ``@record(frozen=False)`` is
``@dataclass(slots=True)``; ``kw_only=True`` as for a dataclass. Not supported (use
``@dataclass``): ``__post_init__``, ``InitVar``, inheriting fields, ``order``, fields with
``init=False``. ``tests/test_records.py`` holds it to a dataclass's behaviour.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter
from typing import Any, TypeVar, cast, dataclass_transform, overload

__all__ = ["record"]

_T = TypeVar("_T")
_set = object.__setattr__


class _Factory:
    """The default of a ``default_factory`` parameter (shown as ``<factory>``, as a dataclass's)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _values(names: tuple[str, ...]) -> Callable[[Any], Any]:
    """A fast getter of the named attributes, as one comparable, hashable value."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        single = attrgetter(names[0])
        return lambda obj: (single(obj),)
    return lambda obj: ()


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        compared = self.__record_compared__
        return compared(self) == compared(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__record_hashed__(self))


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_shown__)
    return f"{self.__class__.__qualname__}({shown})"


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in dataclasses.fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=True):
        _set(self, f.name, value)


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> Callable[..., None]:
    """Compile ``__init__`` for ``fields``: a dataclass's signature and assignments."""
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keywords: list[str] = []
    body: list[str] = []
    for f in fields:
        if not f.init:
            raise TypeError(f"@record {cls.__qualname__}.{f.name}: init=False fields need @dataclass")
        value = f.name
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
            param = f"{f.name}=_default_{f.name}"
        elif f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            param = f"{f.name}=_FACTORY"
            value = f"_factory_{f.name}() if {f.name} is _FACTORY else {f.name}"
        else:
            param = f.name
        (keywords if f.kw_only else positional).append(param)
        if frozen:  # the slot's own setter: a third faster than object.__setattr__(self, name, value)
            namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
            body.append(f"_set_{f.name}(self, {value})")
        else:
            body.append(f"self.{f.name} = {value}")
    params = ", ".join(["self", *positional, *(["*", *keywords] if keywords else [])])
    source = f"def __init__({params}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    exec(source, namespace)  # generated from the field names, as dataclasses does
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    return init


def _make(cls: type[_T], frozen: bool, kw_only: bool) -> type[_T]:
    if "__post_init__" in cls.__dict__ or any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        raise TypeError(f"@record {cls.__qualname__}: __post_init__ and inherited fields need @dataclass")
    made: Any = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=True, kw_only=kw_only)
    fields = dataclasses.fields(made)
    made.__init__ = _init(made, fields, frozen)
    made.__record_compared__ = staticmethod(_values(tuple(f.name for f in fields if f.compare)))
    made.__record_shown__ = tuple(f.name for f in fields if f.repr)
    made.__eq__ = _eq
    made.__repr__ = _repr
    if frozen:
        made.__record_hashed__ = staticmethod(_values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))))
        made.__hash__ = _hash
        made.__setattr__ = _frozen_setattr
        made.__delattr__ = _frozen_delattr
        made.__getstate__ = _getstate
        made.__setstate__ = _setstate
    else:
        made.__hash__ = None
    return cast("type[_T]", made)


@overload
def record(cls: type[_T], /) -> type[_T]: ...
@overload
def record(*, frozen: bool = True, kw_only: bool = False) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(
    cls: type[_T] | None = None, /, *, frozen: bool = True, kw_only: bool = False
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Make ``cls`` a slotted dataclass, frozen unless ``frozen=False`` (see the module docstring)."""
    if cls is None:
        return lambda c: _make(c, frozen, kw_only)
    return _make(cls, frozen, kw_only)
