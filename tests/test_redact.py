"""Masking secrets in text, and the commands' environment policy (units of issue 11)."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from opi_cli._util.redact import Redactor, dsn_passwords, mask_dsn
from opi_cli.tools.shell_env import ShellEnvPolicy, build_shell_env

KEY = "sk-proj/AbC+dEf=012345"


@pytest.mark.parametrize("shown", [
    KEY,
    KEY + "\r",
    json.dumps(KEY)[1:-1],
    KEY.replace("/", "\\/"),
    quote(KEY, safe=""),
    quote_plus(KEY),
    repr((KEY + "\r").encode())[2:-1],
    json.dumps(json.dumps(KEY + "\r")[1:-1])[1:-1],
])
def test_every_form_of_a_key_is_masked(shown: str) -> None:
    redactor = Redactor([KEY + "\r"])  # as read from a CRLF .env
    assert redactor.redact(f"error: {shown} rejected") == "error: *** rejected"


def test_short_placeholders_are_not_secrets() -> None:
    assert not Redactor(["none", "x", None, "  "])
    assert Redactor(["none"]).redact("none of it") == "none of it"


@pytest.mark.parametrize(("dsn", "password"), [
    ("postgresql://u:pw-secret@h/db", "pw-secret"),
    ("postgresql:/u:pw-secret@h/db", "pw-secret"),
    ("u:pw-secret@h/db", "pw-secret"),
    ("host=h user=u password=pw-secret dbname=d", "pw-secret"),
    ("postgresql://u:p%40ss-secret@h/db", "p@ss-secret"),
])
def test_dsn_passwords_are_found_and_masked(dsn: str, password: str) -> None:
    assert password in dsn_passwords(dsn)
    masked = mask_dsn(f'could not parse "{dsn}" ({password})', dsn)
    assert password not in masked and "p%40ss" not in masked
    assert "***" in masked


def test_shell_env_default_drops_secret_names_and_key_variables() -> None:
    env = {"PATH": "/bin", "OPENAI_API_KEY": "k", "GH_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "s",
           "PGPASSWORD": "p", "MY_CREDENTIALS": "c", "MISTRAL_ODD_NAME": "m", "LANG": "C"}
    out = build_shell_env(env, ShellEnvPolicy(secret_names=("MISTRAL_ODD_NAME",)))
    assert out == {"PATH": "/bin", "LANG": "C"}


def test_shell_env_policy_order_follows_codex() -> None:
    env = {"PATH": "/bin", "HOME": "/h", "GH_TOKEN": "t", "FOO": "f", "LC_ALL": "C"}
    assert build_shell_env(env, ShellEnvPolicy(inherit="core")) == {"PATH": "/bin", "HOME": "/h", "LC_ALL": "C"}
    assert build_shell_env(env, ShellEnvPolicy(inherit="none", set={"CI": "1"})) == {"CI": "1"}
    kept = build_shell_env(env, ShellEnvPolicy(pass_through=("gh_token",), exclude=("f*",)))
    assert kept == {"PATH": "/bin", "HOME": "/h", "GH_TOKEN": "t", "LC_ALL": "C"}
    only = build_shell_env(env, ShellEnvPolicy(ignore_default_excludes=True, include_only=("*TOKEN*", "PATH")))
    assert only == {"PATH": "/bin", "GH_TOKEN": "t"}
