"""A Babel extractor: `pybabel extract` collects journey texts from dialogs/*.yaml.

Registered in pyproject.toml as the `dialogs` extraction method (see babel.cfg).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

import yaml

TRANSLATABLE_KEYS = {"text", "label", "error"}


def _walk(node: yaml.Node, path: str, top: bool) -> Iterator[tuple[int, str, str]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            wanted = name in TRANSLATABLE_KEYS or (top and name == "title")
            if wanted and isinstance(value, yaml.ScalarNode) and value.value:
                yield value.start_mark.line + 1, value.value, f"{path}.{name}".strip(".")
            else:
                yield from _walk(value, f"{path}.{name}", False)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, f"{path}[{i}]", False)


def extract_dialogs(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is None:
        return
    for line, text, where in _walk(root, "", True):
        yield line, None, text, [where]
