from __future__ import annotations

import base64
from pathlib import Path

from opi_cli._util.abort import AbortController
from opi_cli.agent.tool import Tool
from opi_cli.ai.types import ImageContent, TextContent
from opi_cli.tools import LocalFileOps, ReadTool
from tests.tools.conftest import run

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


async def test_reads_whole_file_without_line_numbers(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "a.txt").write_text("a\nb\na\n")
    result = await run(tools["read"], {"path": "a.txt"})
    assert not result.is_error and result.text == "a\nb\na\n"


async def test_offset_beyond_end_counts_trailing_newline(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "a.txt").write_text("a\nb\na\n")
    result = await run(tools["read"], {"path": "a.txt", "offset": 10})
    assert result.is_error and result.text == "Offset 10 is beyond end of file (4 lines total)"


async def test_offset_and_limit_notice(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "n.txt").write_text("\n".join(f"line{i}" for i in range(1, 11)))
    result = await run(tools["read"], {"path": "n.txt", "offset": 3, "limit": 2})
    assert result.text == "line3\nline4\n\n[6 more lines in file. Use offset=5 to continue.]"
    result = await run(tools["read"], {"path": "n.txt", "offset": "9", "limit": "5"})
    assert result.text == "line9\nline10"


async def test_line_limit_notice(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "big.txt").write_text("\n".join(str(i) for i in range(1, 2501)))
    result = await run(tools["read"], {"path": "big.txt"})
    body, notice = result.text.split("\n\n")
    assert body.split("\n")[-1] == "2000"
    assert notice == "[Showing lines 1-2000 of 2500. Use offset=2001 to continue.]"
    assert isinstance(result.details, dict) and result.details["truncation"]["truncatedBy"] == "lines"
    result = await run(tools["read"], {"path": "big.txt", "offset": 2001})
    assert result.text.endswith("2500") and "[" not in result.text


async def test_byte_limit_notice(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "wide.txt").write_text("\n".join("x" * 99 for _ in range(1000)))
    result = await run(tools["read"], {"path": "wide.txt"})
    assert result.text.endswith(
        "\n\n[Showing lines 1-512 of 1000 (50.0KB limit). Use offset=513 to continue.]"
    )


async def test_first_line_too_big(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "min.js").write_text("a\n" + "y" * 60000)
    result = await run(tools["read"], {"path": "min.js", "offset": 2})
    assert (
        result.text
        == "[Line 2 is 58.6KB, exceeds 50.0KB limit. Use bash: sed -n '2p' min.js | head -c 51200]"
    )


async def test_missing_file_error(tools: dict[str, Tool], cwd: Path) -> None:
    result = await run(tools["read"], {"path": "nope.txt"})
    assert result.is_error
    assert result.text == f"ENOENT: no such file or directory, access '{cwd / 'nope.txt'}'"


async def test_path_forms(tools: dict[str, Tool], cwd: Path, tmp_path: Path) -> None:
    (cwd / "x.txt").write_text("cwd")
    home = tmp_path / "home"
    home.mkdir()
    (home / "h.txt").write_text("home")
    assert (await run(tools["read"], {"path": "@x.txt"})).text == "cwd"
    assert (await run(tools["read"], {"path": "~/h.txt"})).text == "home"
    assert (await run(tools["read"], {"path": str(cwd / "x.txt")})).text == "cwd"


async def test_image_by_magic_bytes(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "pic.dat").write_bytes(PNG)
    result = await run(tools["read"], {"path": "pic.dat"})
    text, image = result.content
    assert isinstance(text, TextContent) and text.text == "Read image file [image/png]"
    assert isinstance(image, ImageContent) and image.mime_type == "image/png"
    assert base64.b64decode(image.data) == PNG


async def test_other_image_types(tools: dict[str, Tool], cwd: Path) -> None:
    samples = {
        "image/jpeg": b"\xff\xd8\xff\xe0rest",
        "image/gif": b"GIF89a....",
        "image/webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    }
    for mime, data in samples.items():
        (cwd / "img").write_bytes(data)
        result = await run(tools["read"], {"path": "img"})
        assert result.text == f"Read image file [{mime}]"


async def test_images_refused_for_text_only_models(cwd: Path) -> None:
    (cwd / "pic.png").write_bytes(PNG)
    tool = ReadTool(str(cwd), LocalFileOps(), supports_images=False)
    result = await run(tool, {"path": "pic.png"})
    assert result.is_error and len(result.content) == 1
    assert "does not support image input" in result.text and "image/png" in result.text


async def test_non_utf8_is_replaced_not_fatal(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "latin.txt").write_bytes("café\n".encode("latin-1"))
    result = await run(tools["read"], {"path": "latin.txt"})
    assert not result.is_error and result.text == "caf\ufffd\n"


async def test_binary_file_reported(tools: dict[str, Tool], cwd: Path) -> None:
    (cwd / "blob.bin").write_bytes(b"\x7fELF\x00\x01\x02" * 10)
    result = await run(tools["read"], {"path": "blob.bin"})
    assert result.is_error and "binary file" in result.text and "blob.bin" in result.text


async def test_directory_and_abort(tools: dict[str, Tool], cwd: Path) -> None:
    assert (await run(tools["read"], {"path": "."})).is_error
    ctl = AbortController()
    ctl.abort()
    (cwd / "x.txt").write_text("x")
    result = await run(tools["read"], {"path": "x.txt"}, ctl.signal)
    assert result.is_error and result.text == "Operation aborted"
