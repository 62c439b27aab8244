"""Loading `dialogs/*.yaml` into a `JourneyBook`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.journeys.model import JourneySpec, NodeSpec, VarSpec


class JourneyLoadError(Exception):
    """A journey file that cannot be read; `problems` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Text:
    """A translatable string of a journey and where it stands."""

    journey: str
    where: str
    text: str


@dataclass
class JourneyBook:
    journeys: dict[str, JourneySpec] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> JourneyBook:
        """Read every journey; raise JourneyLoadError listing every broken file."""
        book = cls()
        problems: list[str] = []
        for path in sorted(directory.glob("*.yaml")):
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
                journey = JourneySpec.model_validate(raw)
            except yaml.YAMLError as exc:
                problems.append(f"{path.name}: not valid YAML: {exc}")
                continue
            except ValidationError as exc:
                for error in exc.errors():
                    loc = ".".join(str(part) for part in error["loc"])
                    problems.append(f"{path.name}: {loc}: {error['msg']}")
                continue
            if journey.id in book.journeys:
                problems.append(
                    f"{path.name}: journey id '{journey.id}' is also used by "
                    f"{book.files[journey.id].name}"
                )
                continue
            book.journeys[journey.id] = journey
            book.files[journey.id] = path
        if not book.journeys and not problems:
            problems.append(f"{directory}: no journeys (*.yaml) found")
        if problems:
            raise JourneyLoadError(problems)
        return book

    def node(self, journey: str, node: str) -> NodeSpec | None:
        spec = self.journeys.get(journey)
        return spec.nodes.get(node) if spec else None

    def resolve(self, journey: str, target: str) -> tuple[str, str] | None:
        """Where a `goto` leads from inside `journey`.

        `node` (this journey) first, then `journey` (its start), or `journey:node`.
        """
        if ":" in target:
            other, _, node = target.partition(":")
            return (other, node) if self.node(other, node) else None
        spec = self.journeys.get(journey)
        if spec and target in spec.nodes:
            return journey, target
        other_spec = self.journeys.get(target)
        if other_spec:
            return target, other_spec.start
        return None

    def var(self, name: str) -> VarSpec | None:
        for spec in self.journeys.values():
            if name in spec.vars:
                return spec.vars[name]
        return None

    def texts(self) -> Iterator[Text]:
        """Every translatable string, for the linter and the catalog extractor."""
        for spec in self.journeys.values():
            yield Text(spec.id, "title", spec.title)
            for name, node in spec.nodes.items():
                if node.text:
                    yield Text(spec.id, f"{name}.text", node.text)
                for i, button in enumerate(node.flat_buttons()):
                    yield Text(spec.id, f"{name}.buttons[{i}]", button.label)
                if node.input and node.input.error:
                    yield Text(spec.id, f"{name}.input.error", node.input.error)
