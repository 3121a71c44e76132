"""``@record`` behaves as the ``@dataclass(..., slots=True)`` it stands for."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from opi_cli._util.records import COMPILE_AFTER, record


def _pair(frozen: bool, kw_only: bool) -> tuple[type, type]:
    """The same class body made by ``@dataclass`` and by ``@record``."""

    def body() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "b": "str", "tags": "list[str]", "note": "str", "cached": "int"},
            "__doc__": "A value.",
            "__module__": __name__,
            "b": "x",
            "tags": field(default_factory=list),
            "note": field(default="", repr=False),
            "cached": field(default=0, compare=False),
        }

    reference = dataclass(frozen=frozen, slots=True, kw_only=kw_only)(type("Value", (), body()))
    made = record(frozen=frozen, kw_only=kw_only)(type("Value", (), body()))
    return reference, made


MODES = [(True, False), (True, True), (False, False), (False, True)]


@pytest.mark.parametrize(("frozen", "kw_only"), MODES)
def test_construction_signature_fields_and_repr_match_dataclass(frozen: bool, kw_only: bool) -> None:
    ref, rec = _pair(frozen, kw_only)
    assert str(inspect.signature(rec)) == str(inspect.signature(ref))
    assert [(f.name, f.type, f.kw_only) for f in dataclasses.fields(rec)] == [
        (f.name, f.type, f.kw_only) for f in dataclasses.fields(ref)]
    assert rec.__slots__ == ref.__slots__ and rec.__match_args__ == ref.__match_args__
    assert rec.__doc__ == "A value."
    for kwargs in ({"a": 1}, {"a": 2, "b": "y", "tags": ["t"], "note": "n", "cached": 5}):
        r, m = ref(**kwargs), rec(**kwargs)
        assert repr(m) == repr(r)
        assert dataclasses.asdict(m) == dataclasses.asdict(r)
        assert not hasattr(m, "__dict__")
    assert rec(a=1).tags is not rec(a=1).tags  # a fresh default per instance
    with pytest.raises(TypeError):
        rec()
    if kw_only:
        with pytest.raises(TypeError):
            rec(1)
    else:
        assert rec(1, "y") == rec(a=1, b="y")


@pytest.mark.parametrize(("frozen", "kw_only"), MODES)
def test_equality_hashing_and_mutation_match_dataclass(frozen: bool, kw_only: bool) -> None:
    ref, rec = _pair(frozen, kw_only)
    one, same, other = rec(a=1, cached=1), rec(a=1, cached=2), rec(a=2)
    assert one == same and one != other  # compare=False fields do not count
    assert one != ref(a=1, cached=1) and (one == "x") is False  # another class is never equal
    if frozen:
        hashable_one, hashable_same = rec(a=1, tags=(), cached=1), rec(a=1, tags=(), cached=9)  # type: ignore[arg-type]
        assert hash(hashable_one) == hash(hashable_same)
        for action in (lambda: setattr(one, "a", 5), lambda: delattr(one, "a")):
            with pytest.raises(dataclasses.FrozenInstanceError):
                action()
        with pytest.raises(TypeError):
            hash(one)  # a list field is unhashable, as with a dataclass
    else:
        assert rec.__hash__ is None and ref.__hash__ is None
        one.a = 7
        assert one.a == 7
    with pytest.raises(AttributeError):
        one.undeclared = 1


@pytest.mark.parametrize(("frozen", "kw_only"), MODES)
def test_replace_copy_pickle_and_match(frozen: bool, kw_only: bool) -> None:
    _, rec = _pair(frozen, kw_only)
    globals()["Value"] = rec  # pickle finds the class by its module and name
    try:
        value = rec(a=1, tags=["t"], note="n")
        changed = dataclasses.replace(value, b="z")
        assert (changed.a, changed.b, changed.tags, changed.note) == (1, "z", ["t"], "n")
        for clone in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
            assert clone == value and clone is not value and clone.note == "n"
        match value:
            case rec(a=1, b="x"):
                by_keyword = True
            case _:
                by_keyword = False
        assert by_keyword
        if not kw_only:  # kw-only fields are not in __match_args__, as with a dataclass
            match value:
                case rec(1, "x", ["t"]):
                    by_position = True
                case _:
                    by_position = False
            assert by_position
    finally:
        del globals()["Value"]


@pytest.mark.parametrize("names", [(), ("a",), ("a", "b")])
def test_any_number_of_fields_compares_and_hashes(names: tuple[str, ...]) -> None:
    body = {"__annotations__": dict.fromkeys(names, "int"), "__module__": __name__}
    ref = dataclass(frozen=True, slots=True)(type("Few", (), dict(body)))
    rec = record(type("Few", (), dict(body)))
    ones, twos = dict.fromkeys(names, 1), dict.fromkeys(names, 2)
    assert (rec(**ones) == rec(**ones)) and (rec(**ones) == rec(**twos)) == (not names)
    assert hash(rec(**ones)) == hash(rec(**ones)) and repr(rec(**ones)) == repr(ref(**ones))
    assert {rec(**ones), rec(**twos)} == ({rec(**ones)} if not names else {rec(**twos), rec(**ones)})


def test_what_it_does_not_support_is_refused_with_the_way_out() -> None:
    @dataclass(frozen=True, slots=True)
    class Base:
        a: int

    with pytest.raises(TypeError, match="need @dataclass"):
        record(type("Child", (Base,), {"__annotations__": {"b": "int"}}))
    with pytest.raises(TypeError, match="need @dataclass"):
        record(type("Post", (), {"__annotations__": {"b": "int"}, "__post_init__": lambda self: None}))
    with pytest.raises(TypeError, match="ClassVar"):
        record(type("Shared", (), {"__annotations__": {"b": "ClassVar[int]"}}))
    with pytest.raises(ValueError, match="mutable default"):  # as @dataclass says it
        record(type("Mutable", (), {"__annotations__": {"b": "list[int]"}, "b": []}))
    with pytest.raises(TypeError, match="non-default argument 'c' follows default argument 'b'"):
        record(type("Order", (), {"__annotations__": {"b": "int", "c": "int"}, "b": 0}))
    with pytest.raises(TypeError, match="init=False"):
        record(type("Hidden", (), {"__annotations__": {"b": "int"}, "b": field(init=False, default=0)}))


def test_a_recursive_structure_reprs_without_recursing_forever() -> None:
    @record(frozen=False)
    class Node:
        children: list[Any] = field(default_factory=list)

    node = Node()
    node.children.append(node)
    assert repr(node) == "test_a_recursive_structure_reprs_without_recursing_forever.<locals>.Node(children=[...])"


@pytest.mark.parametrize(("frozen", "kw_only"), MODES)
def test_the_generic_init_and_the_compiled_one_bind_alike(frozen: bool, kw_only: bool) -> None:
    """A record binds its first instances generically, then compiles its __init__: both as a dataclass."""
    ref, rec = _pair(frozen, kw_only)
    calls = [((), {"a": 1}), ((), {"a": 2, "b": "y", "tags": ["t"], "note": "n", "cached": 5}),
             ((), {"cached": 3, "a": 4})]
    if not kw_only:
        calls += [((1,), {}), ((1, "z"), {"cached": 2}), ((1, "z", ["u"], "v", 9), {})]
    errors = [((), {}), ((), {"a": 1, "zzz": 2}), ((1, 2, 3, 4, 5, 6), {})]
    if not kw_only:
        errors.append(((1,), {"a": 2}))
    for _ in range(COMPILE_AFTER // len(calls) + 2):  # through the generic phase and past it
        for args, kwargs in calls:
            made, expected = rec(*args, **kwargs), ref(*args, **kwargs)
            assert repr(made) == repr(expected) and dataclasses.asdict(made) == dataclasses.asdict(expected)
        for args, kwargs in errors:
            with pytest.raises(TypeError):
                ref(*args, **kwargs)
            with pytest.raises(TypeError):
                rec(*args, **kwargs)
    assert getattr(rec.__dict__["__init__"], "__record_compiled__", False)  # it did compile
