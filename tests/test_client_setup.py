"""HTTP clients cost nothing they do not use: CA certificates only for https, sniffio probed once.

The TLS tests run the mock server over HTTPS with a self-signed certificate for 127.0.0.1
(tests/fixtures/tls, test-only): trusted through ``SSL_CERT_FILE`` the request succeeds,
without it the certificate is refused (verification is really on), and a run against an
``http://`` server never loads a certificate at all.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from opi_cli.ai.client_setup import trust_context
from opi_cli.ai.http import make_client, post_sse
from opi_cli.ai.provider import StreamOptions
from tests.conftest import ROOT, run_opi
from tests.mock_llm import MockLLM

CERT = ROOT / "tests" / "fixtures" / "tls" / "test-only.pem"
KEY = ROOT / "tests" / "fixtures" / "tls" / "test-only.key"
ANSWER = {"responses": [{"steps": [{"text": "over tls"}]}], "repeat_last": True}


def _server_tls() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


def _args(base_url: str) -> list[str]:
    return ["-p", "--no-session", "--provider", "openai", "--api", "openai-completions", "--base-url",
            f"{base_url}/v1", "--api-key", "sk-test", "--model", "m", "hi"]


def test_https_verifies_against_ssl_cert_file_and_refuses_an_untrusted_certificate(tmp_path: Path, opi_home: Path) -> None:
    (opi_home / "settings.json").write_text('{"retry": {"enabled": false}}')
    with MockLLM(ANSWER, tls=_server_tls()) as srv:
        assert srv.base_url.startswith("https://")
        trusted = run_opi(_args(srv.base_url), cwd=tmp_path, env={"SSL_CERT_FILE": str(CERT)})
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout.strip() == "over tls"
        untrusted = run_opi(_args(srv.base_url), cwd=tmp_path, env={"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""})
        assert untrusted.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr or "certificate verify failed" in untrusted.stderr
        assert len(srv.requests) == 1  # the refused connection never sent the request


async def _one_request(client: Any, base_url: str) -> list[str]:
    options = StreamOptions(api_key="sk-test", client=client)
    body = b'{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    return [ev.data async for ev in post_sse(f"{base_url}/v1/chat/completions", {}, body, options)]


async def test_certificates_are_loaded_at_the_first_https_handshake_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    monkeypatch.setenv("SSL_CERT_FILE", str(CERT))
    monkeypatch.setattr(type(trust_context()), "_loaded", False)
    with MockLLM(ANSWER) as plain, MockLLM(ANSWER, tls=_server_tls()) as secure:
        client = make_client()
        try:
            assert (await _one_request(client, plain.base_url))[-1] == "[DONE]"
            assert loads == []  # plain http: no certificate loaded, not even at client creation
            for _ in range(2):
                assert (await _one_request(client, secure.base_url))[-1] == "[DONE]"
            other = make_client()
            assert (await _one_request(other, secure.base_url))[-1] == "[DONE]"
            await other.aclose()
        finally:
            await client.aclose()
    assert len(loads) == 1  # once per process, whatever the number of clients and connections


def test_a_missing_sniffio_is_looked_for_once_not_per_request() -> None:
    """httpcore imports sniffio several times per request; without it each import searched sys.path."""
    code = textwrap.dedent("""
        import asyncio, sys
        looked = []

        class NoSniffio:
            def find_spec(self, name, path=None, target=None):
                if name == "sniffio":
                    looked.append(name)
                    raise ModuleNotFoundError("No module named 'sniffio'", name=name)
                return None

        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, NoSniffio())
        from opi_cli.ai.http import make_client, post_sse
        from opi_cli.ai.provider import StreamOptions
        from tests.mock_llm import MockLLM

        async def main(base_url):
            client = make_client()
            body = b'{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
            for _ in range(3):
                events = [e async for e in post_sse(base_url + "/v1/chat/completions", {}, body,
                                                    StreamOptions(client=client))]
                assert events[-1].data == "[DONE]", events
            await client.aclose()

        with MockLLM({"responses": [{"steps": [{"text": "ok"}]}], "repeat_last": True}) as srv:
            asyncio.run(main(srv.base_url))
        print("looked for sniffio", len(looked), "times")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "looked for sniffio 1 times" in proc.stdout
