"""A tiny, safe condition language shared by journeys and support measures.

    {var: children_count, ge: 3}
    {var: region, in: [dagestan]}
    {var: pregnant, set: true}          # answered at all
    {all: [...]}, {any: [...]}, {not: {...}}

No `eval`: conditions are data, so the linter can check every variable they
name and staff can read them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_OPERATORS = {*COMPARATORS, "in", "set"}

Condition = Mapping[str, Any]


class ConditionError(ValueError):
    """A condition that does not follow the language."""


def validate(cond: Any, where: str = "condition") -> None:
    """Raise ConditionError with a readable message if `cond` is malformed."""
    if not isinstance(cond, Mapping):
        raise ConditionError(f"{where}: a condition must be a mapping, got {cond!r}")
    keys = set(cond)
    if keys == {"all"} or keys == {"any"}:
        items = cond["all" if "all" in cond else "any"]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"{where}: 'all'/'any' needs a non-empty list")
        for i, item in enumerate(items):
            validate(item, f"{where}[{i}]")
        return
    if keys == {"not"}:
        validate(cond["not"], f"{where}.not")
        return
    if "var" not in cond:
        raise ConditionError(f"{where}: expected 'var', 'all', 'any' or 'not', got {sorted(keys)}")
    ops = keys - {"var"}
    if len(ops) != 1 or not ops <= _OPERATORS:
        raise ConditionError(
            f"{where}: variable '{cond['var']}' needs exactly one of "
            f"{sorted(_OPERATORS)}, got {sorted(ops)}"
        )
    if "in" in ops and not isinstance(cond["in"], list):
        raise ConditionError(f"{where}: 'in' needs a list")


def variables(cond: Condition) -> Iterator[str]:
    """Every variable name a condition reads."""
    if "all" in cond or "any" in cond:
        for item in cond.get("all") or cond.get("any") or []:
            yield from variables(item)
    elif "not" in cond:
        yield from variables(cond["not"])
    else:
        yield str(cond["var"])


def evaluate(cond: Condition | None, values: Mapping[str, Any]) -> bool:
    """True when `cond` holds for `values`; an unanswered variable never matches a comparison."""
    if cond is None:
        return True
    if "all" in cond:
        return all(evaluate(c, values) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, values) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], values)
    value = values.get(cond["var"])
    if "set" in cond:
        return (value is not None) == bool(cond["set"])
    if value is None:
        return False
    if "in" in cond:
        return value in cond["in"]
    for name, compare in COMPARATORS.items():
        if name in cond:
            try:
                return compare(value, cond[name])
            except TypeError:
                return False
    return False
