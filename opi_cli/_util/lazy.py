"""Names a package exports but imports on first use (PEP 562 module ``__getattr__``).

A package lists ``{name: defining module}`` and gets the ``__getattr__``/``__dir__`` pair
that imports the module when the name is first looked up and keeps the value in the
package's namespace, so later lookups cost nothing. Importing one submodule then does not
load its siblings: every ``opi`` run pays only for what it uses (``opi --version`` none).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package`` (its ``globals()``)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
