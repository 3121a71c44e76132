"""``@record``: a slotted dataclass made in a twentieth of the time ``@dataclass`` takes.

opi's values (messages, events, session entries, settings) are ~190 dataclasses, and
``@dataclass(frozen=True, slots=True)`` compiles six generated methods per class: ~0.75 ms
each on CPython 3.11, which was a third of the time ``opi -p`` spent before its first
request. ``@record`` makes the same class (~50 µs) and compiles one method, when it is
first needed:

- the fields are read as :func:`dataclasses.dataclass` reads them (``field()`` options,
  ``kw_only``, the mutable-default and default-order errors) into ``__dataclass_fields__``,
  so :func:`dataclasses.fields`, :func:`dataclasses.replace`, :func:`dataclasses.asdict`,
  ``is_dataclass`` and ``__match_args__`` work as for any dataclass (on a Python whose
  ``dataclasses`` keeps fields differently, ``dataclasses.dataclass`` reads them);
- the class is made once, with ``__slots__`` and its methods in its body;
- ``__init__`` is generated, as a dataclass's is (defaults, ``default_factory``,
  ``kw_only``), once the class has made a few instances (:data:`COMPILE_AFTER`; before, a
  generic ``__init__`` binds the same arguments: most records of a run make a few instances,
  many none; ``inspect.signature`` compiles it at once); a frozen record's sets each slot
  through the slot's own descriptor (a third faster than the ``object.__setattr__`` a frozen
  dataclass calls);
- ``__eq__``, ``__hash__``, ``__repr__``, the frozen ``__setattr__``/``__delattr__`` (raising
  :class:`dataclasses.FrozenInstanceError`) and the pickling pair are shared functions that
  read the class's field names, with a dataclass's semantics: equality compares the
  ``compare`` fields of two instances of the same class, a frozen record hashes them, a
  mutable one is unhashable, ``repr`` shows the ``repr`` fields.

``@record`` is ``@dataclass(frozen=True, slots=True)``; ``@record(frozen=False)`` is
``@dataclass(slots=True)``; ``kw_only=True`` as for a dataclass. Not supported (use
``@dataclass``): ``__post_init__``, ``ClassVar``, ``InitVar``, ``KW_ONLY``, inheriting
fields, ``order``, fields with ``init=False``; each is refused when the class is made.
``tests/test_records.py`` holds it to a dataclass's behaviour.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter
from typing import Any, TypeVar, cast, dataclass_transform, overload

__all__ = ["COMPILE_AFTER", "record"]

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


_FIELD = getattr(dataclasses, "_FIELD", None)
"""The marker :func:`dataclasses.fields` keeps a field by (CPython 3.7 and later); without it
the fields are read by :func:`dataclasses.dataclass` itself, ~0.1 ms more per class."""
_NOT_FIELDS = ("ClassVar", "typing.ClassVar", "InitVar", "dataclasses.InitVar", "KW_ONLY", "dataclasses.KW_ONLY")


def _fields(cls: type, kw_only: bool) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of ``cls`` as :func:`dataclasses.dataclass` would read them (own annotations only)."""
    own = cls.__dict__
    fields: list[dataclasses.Field[Any]] = []
    defaulted = ""
    for name, annotation in own.get("__annotations__", {}).items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if text.startswith(_NOT_FIELDS) or annotation in (dataclasses.KW_ONLY, dataclasses.InitVar):
            raise TypeError(f"@record {cls.__qualname__}.{name}: ClassVar, InitVar and KW_ONLY need @dataclass")
        value = own.get(name, MISSING)
        f: Any = value if isinstance(value, dataclasses.Field) else dataclasses.field(default=value)
        if f.default is not MISSING and f.default.__class__.__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use default_factory")
        f.name, f.type, f._field_type = name, annotation, _FIELD
        if f.kw_only is MISSING:
            f.kw_only = kw_only
        if not f.kw_only:
            if f.default is not MISSING or f.default_factory is not MISSING:
                defaulted = name
            elif defaulted:
                raise TypeError(f"non-default argument {name!r} follows default argument {defaulted!r}")
        fields.append(f)
    return tuple(fields)


def _namespace(cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> dict[str, Any]:
    """The class body of the slotted record: ``cls``'s own, the fields' slots and the shared methods."""
    names = tuple(f.name for f in fields)
    ns = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    ns["__slots__"] = names
    ns["__signature__"] = _SIGNATURE
    ns["__dataclass_fields__"] = {f.name: f for f in fields}
    ns["__match_args__"] = tuple(f.name for f in fields if not f.kw_only)
    ns["__record_compared__"] = staticmethod(_values(tuple(f.name for f in fields if f.compare)))
    ns["__record_shown__"] = tuple(f.name for f in fields if f.repr)
    ns["__eq__"] = _eq
    ns["__repr__"] = _repr
    if frozen:
        hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        ns["__record_hashed__"] = staticmethod(_values(hashed))
        ns.update(__hash__=_hash, __setattr__=_frozen_setattr, __delattr__=_frozen_delattr,
                  __getstate__=_getstate, __setstate__=_setstate)
    else:
        ns["__hash__"] = None
    return ns


def _make(cls: type[_T], frozen: bool, kw_only: bool) -> type[_T]:
    if "__post_init__" in cls.__dict__ or any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        raise TypeError(f"@record {cls.__qualname__}: __post_init__ and inherited fields need @dataclass")
    if _FIELD is None:  # a Python whose dataclasses keep fields otherwise: let them read the class
        read: Any = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=False, kw_only=kw_only)
        fields = dataclasses.fields(read)
    else:
        fields = _fields(cls, kw_only)
    hidden = [f.name for f in fields if not f.init]
    if hidden:
        raise TypeError(f"@record {cls.__qualname__}.{hidden[0]}: init=False fields need @dataclass")
    meta: Any = type(cls)
    made: Any = meta(cls.__name__, cls.__bases__, _namespace(cls, fields, frozen))
    made.__qualname__ = cls.__qualname__
    made.__init__ = _deferred_init(made)
    return cast("type[_T]", made)


COMPILE_AFTER = 16
"""Instances a record makes through the generic ``__init__`` before its own is compiled."""


def _deferred_init(cls: type) -> Callable[..., None]:
    """``cls.__init__`` until it has made :data:`COMPILE_AFTER` instances: it binds the
    arguments generically (most records of a run make a few instances, many none, and
    compiling is the most of what a record costs), then compiles the real one, which takes
    its place."""
    binder: _Binder | None = None
    calls = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal binder, calls
        calls += 1
        if calls > COMPILE_AFTER:
            _compiled_init(cls)(self, *args, **kwargs)
            return
        if binder is None:
            binder = _Binder(cls)
        binder.bind(self, args, kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


class _Binder:
    """A record's ``__init__`` without compiling one: the same arguments, defaults and errors."""

    __slots__ = ("defaults", "factories", "keyword", "name", "positional", "setters")

    def __init__(self, cls: Any) -> None:
        fields = tuple(cls.__dataclass_fields__.values())
        self.name = f"{cls.__qualname__}.__init__()"
        self.positional = tuple(f.name for f in fields if not f.kw_only)
        self.keyword = tuple(f.name for f in fields if f.kw_only)
        self.defaults = {f.name: f.default for f in fields if f.default is not MISSING}
        self.factories = {f.name: f.default_factory for f in fields if f.default_factory is not MISSING}
        self.setters = {f.name: cls.__dict__[f.name].__set__ for f in fields}

    def bind(self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        positional, setters = self.positional, self.setters
        if len(args) > len(positional):
            raise TypeError(f"{self.name} takes {len(positional) + 1} positional arguments but {len(args) + 1} "
                            "were given")
        for name, value in zip(positional, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{self.name} got multiple values for argument '{name}'")
            setters[name](obj, value)
        for name in (*positional[len(args):], *self.keyword):
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in self.defaults:
                value = self.defaults[name]
            elif name in self.factories:
                value = self.factories[name]()
            else:
                raise TypeError(f"{self.name} missing 1 required argument: '{name}'")
            setters[name](obj, value)
        if kwargs:
            raise TypeError(f"{self.name} got an unexpected keyword argument '{next(iter(kwargs))}'")


def _compiled_init(cls: Any) -> Callable[..., None]:
    init: Callable[..., None] = cls.__dict__["__init__"]
    if not getattr(init, "__record_compiled__", False):
        init = _init(cls, tuple(cls.__dataclass_fields__.values()), cls.__setattr__ is _frozen_setattr)
        init.__record_compiled__ = True  # type: ignore[attr-defined]
        cls.__init__ = init
    return init


class _Signature:
    """``inspect.signature`` of a record whose ``__init__`` is not compiled yet (compiles it)."""

    def __get__(self, instance: object, owner: type) -> Any:
        import inspect

        signature = inspect.signature(_compiled_init(owner))
        return signature.replace(parameters=list(signature.parameters.values())[1:])  # without self


_SIGNATURE = _Signature()


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
