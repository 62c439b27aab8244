"""Reading YAML typed or uploaded by staff without letting it stall the bot.

`yaml.safe_load` is safe from code execution but not from cost: aliases
(`*a`) are expanded into shared objects that every later step (validation,
JSON, the condition evaluator) walks again and again, so half a kilobyte of
nested aliases makes seconds of work, and deep nesting ends in RecursionError.
This loader refuses aliases, duplicate keys, deep nesting, too many nodes and
values JSON cannot hold, and says why in words staff can act on.

Trusted files of the repository (knowledge/*.yaml, dialogs/*.yaml) are still
read with `yaml.safe_load`; use this for anything that comes through the panel.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node

# An uploaded file (the whole base is ~5,000 nodes, 5 levels deep).
FILE_DEPTH = 20
FILE_NODES = 200_000
# One eligibility condition (the longest shipped one is a few dozen nodes).
CONDITION_DEPTH = 20
CONDITION_NODES = 2_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class RefusedYaml(yaml.YAMLError):
    """YAML that parses but is not accepted; `reason` is for staff (Russian)."""

    def __init__(self, reason: str, mark: Any = None) -> None:  # a yaml Mark (pure or C)
        super().__init__(reason)
        self.reason = reason
        self.line = mark.line + 1 if mark is not None else None

    def __str__(self) -> str:
        where = f" (строка {self.line})" if self.line is not None else ""
        return f"{self.reason}{where}"


class _Loader(yaml.SafeLoader):
    """SafeLoader with limits; set them on the instance before reading (see `load`)."""

    max_depth = FILE_DEPTH
    max_nodes = FILE_NODES
    dates = True
    _depth = 0
    _nodes = 0

    # -- composing: the node tree, before any Python object exists ---------------------
    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            raise RefusedYaml(
                f"ссылки на другие части файла (*{event.anchor}) не поддерживаются: "
                "напишите значение полностью",
                event.start_mark,
            )
        self._nodes += 1
        if self._nodes > self.max_nodes:
            raise RefusedYaml(
                f"слишком много значений (больше {self.max_nodes}); разделите текст на части",
                event.start_mark,
            )
        if self._depth >= self.max_depth:
            raise RefusedYaml(
                f"слишком глубокая вложенность (больше {self.max_depth} уровней)",
                event.start_mark,
            )
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        assert node is not None  # None only at the end of the stream, never for a value
        return node

    # -- constructing: Python values from the nodes -------------------------------------
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise RefusedYaml(
                    f"ключ {key!r} должен быть словом (если это да/нет или число, "
                    "возьмите его в кавычки)",
                    key_node.start_mark,
                )
            if key in seen:
                raise RefusedYaml(f"ключ «{key}» повторяется дважды", key_node.start_mark)
            seen.add(key)
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def _refuse(what: str) -> Any:
    def construct(loader: _Loader, node: Node) -> Any:
        raise RefusedYaml(f"{what} здесь не поддерживаются", node.start_mark)

    return construct


def _float(loader: _Loader, node: Node) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise RefusedYaml(f"число {node.value!r} не поддерживается", node.start_mark)
    return value


def _timestamp(loader: _Loader, node: Node) -> Any:
    if not loader.dates:
        raise RefusedYaml(
            f"дата {node.value} здесь не поддерживается (если это текст, возьмите его в кавычки)",
            node.start_mark,
        )
    return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:binary", _refuse("двоичные данные (!!binary)"))
_Loader.add_constructor("tag:yaml.org,2002:set", _refuse("множества (!!set)"))
_Loader.add_constructor("tag:yaml.org,2002:omap", _refuse("упорядоченные словари (!!omap)"))
_Loader.add_constructor("tag:yaml.org,2002:pairs", _refuse("списки пар (!!pairs)"))
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load(
    text: str,
    *,
    max_depth: int = FILE_DEPTH,
    max_nodes: int = FILE_NODES,
    dates: bool = True,
) -> Any:
    """One YAML document as plain data (dicts with str keys, lists, str, int,
    finite float, bool, None, and dates if `dates`).

    Raises RefusedYaml for what this loader does not accept, and yaml.YAMLError
    for text that is not YAML at all.
    """
    loader = _Loader(text)
    loader.max_depth, loader.max_nodes, loader.dates = max_depth, max_nodes, dates
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_condition(text: str) -> Any:
    """A condition typed by staff: small, and only JSON types (no dates)."""
    return load(text, max_depth=CONDITION_DEPTH, max_nodes=CONDITION_NODES, dates=False)
