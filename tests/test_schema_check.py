"""The fast schema check agrees with jsonschema, and tool calls only load jsonschema to explain a failure."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opi_cli.agent.schema_check import compile_check
from opi_cli.agent.validation import validate_arguments
from tests.conftest import ROOT

# -- generated schemas and values ---------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 1.5, -2.0]),
    st.sampled_from(["", "a", "ab", "abc", "1", "x1"]),
)
values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    ),
    max_leaves=6,
)
_types = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])


def _leaf_keywords() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={
        "type": st.one_of(_types, st.lists(_types, min_size=1, max_size=2, unique=True)),
        "enum": st.lists(values, min_size=1, max_size=3),
        "const": values,
        "minLength": st.integers(0, 3), "maxLength": st.integers(0, 3),
        "pattern": st.sampled_from(["^a", "b$", "[0-9]", "^$"]),
        "minimum": st.sampled_from([-1, 0, 1, 1.5]), "maximum": st.sampled_from([-1, 0, 1, 1.5]),
        "exclusiveMinimum": st.sampled_from([-1, 0, 1]), "exclusiveMaximum": st.sampled_from([0, 1, 2]),
        "minItems": st.integers(0, 2), "maxItems": st.integers(0, 2),
        "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
        "format": st.just("date"), "description": st.just("ignored"), "x-vendor": st.just(1),
    })


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda base, props: {**base, "properties": props}, _leaf_keywords(),
                  st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=2)),
        st.builds(lambda base, extra: {**base, "additionalProperties": extra}, _leaf_keywords(), inner),
        st.builds(lambda base, items: {**base, "items": items}, _leaf_keywords(), inner),
        st.builds(lambda base, prefix: {**base, "prefixItems": prefix}, _leaf_keywords(), st.lists(inner, max_size=2)),
        st.builds(lambda key, subs: {key: subs}, st.sampled_from(["anyOf", "oneOf", "allOf"]),
                  st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda sub: {"not": sub}, inner),
    )


schemas = st.recursive(st.one_of(_leaf_keywords(), st.booleans()), _extend, max_leaves=5)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, values)
def test_the_fast_check_agrees_with_jsonschema(schema: Any, value: Any) -> None:
    check = compile_check(schema)
    assert check is not None, f"a schema of supported keywords was not compiled: {schema!r}"
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert check(value) == expected, f"schema {schema!r}, value {value!r}: jsonschema says {expected}"


def test_schemas_with_other_assertions_are_left_to_jsonschema() -> None:
    for schema in ({"$ref": "#/$defs/x", "$defs": {"x": {}}}, {"uniqueItems": True}, {"patternProperties": {}},
                   {"type": "object", "properties": {"a": {"multipleOf": 2}}}, {"$schema": "http://json-schema.org/draft-07/schema#"},
                   {"type": "no-such-type"}, {"pattern": "("}):
        assert compile_check(schema) is None, schema


def test_a_schema_jsonschema_must_handle_still_validates() -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}
    assert validate_arguments("t", schema, {"tags": ["a", "b"]}) == ({"tags": ["a", "b"]}, None)
    _, problem = validate_arguments("t", schema, {"tags": ["a", "a"]})
    assert problem is not None and "tags" in problem


def test_a_valid_call_imports_no_jsonschema_and_a_bad_one_names_its_problems() -> None:
    """A real tool's schema, in a fresh interpreter: jsonschema is loaded only for the failing call."""
    code = textwrap.dedent("""
        import sys
        from opi_cli.agent.validation import validate_arguments
        from opi_cli.tools import create_builtin_tools
        tools = create_builtin_tools(".", supports_images=False)
        for name, args in [("bash", {"command": "ls", "timeout": "5"}), ("read", {"path": "a", "limit": 3}),
                           ("edit", {"path": "a", "edits": [{"oldText": "x", "newText": "y"}]})]:
            checked, problem = validate_arguments(name, tools[name].parameters, args)
            assert problem is None, problem
        print("after valid calls:", "jsonschema" in sys.modules)
        _, problem = validate_arguments("bash", tools["bash"].parameters, {"timeout": "soon"})
        print("after a bad call:", "jsonschema" in sys.modules)
        print(problem)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "after valid calls: False" in proc.stdout
    assert "after a bad call: True" in proc.stdout
    assert "command: must have required property 'command'" in proc.stdout
    assert "timeout: must be number" in proc.stdout


def test_each_schema_is_compiled_once_however_many_calls_and_copies(monkeypatch: Any) -> None:
    """The fast check and jsonschema's validator are built once per schema, not per call."""
    from opi_cli.agent import validation

    compiled: list[object] = []
    built: list[object] = []
    real_compile, real_for = validation.compile_check, jsonschema.validators.validator_for

    def counting_compile(schema: Any) -> Any:
        compiled.append(schema)
        return real_compile(schema)

    def counting_for(schema: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(schema, dict) and schema.get("description") == "compiled-once test":
            built.append(schema)  # jsonschema also calls it for each subschema it descends into
        return real_for(schema, *args, **kwargs)

    monkeypatch.setattr(validation, "compile_check", counting_compile)
    monkeypatch.setattr(jsonschema.validators, "validator_for", counting_for)
    # a schema no other test uses, so the process-wide caches cannot already hold it
    def schema() -> dict[str, Any]:
        return {"type": "object", "description": "compiled-once test", "properties": {"n": {"type": "integer"}},
                "required": ["n"]}

    for i in range(5):  # a fresh but equal dict each call, as a tool list rebuilt per turn gives
        assert validate_arguments("t", schema(), {"n": i}) == ({"n": i}, None)
        _, problem = validate_arguments("t", schema(), {"n": "many"})
        assert problem is not None and "n: must be integer" in problem
    assert len(compiled) == 1
    assert len(built) == 1
