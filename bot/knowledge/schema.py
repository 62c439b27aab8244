"""The shape of `knowledge/*.yaml` entries (support measures, organisations,
hotlines, articles). Texts are per language: `{ru: "…", en: "…"}`."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.journeys.conditions import ConditionError, evaluate, validate, variables

Kind = Literal["measure", "organisation", "hotline", "article"]
Region = Literal["federal", "dagestan"]
FINDER_VARS = {
    "region",
    "pregnant",
    "children_count",
    "youngest_age",
    "child_disability",
    "low_income",
    "single_parent",
    "employment",
}
HELP_KINDS = (
    "psychological",
    "legal",
    "social",
    "crisis",
    "humanitarian",
    "clothing",
    "medical",
    "pregnancy",
    "disability",
    "large_family",
    "shelter",
    "employment",
    "documents",
    "partner_shop",
    "volunteering",
)
TOPICS = (
    "pregnancy",
    "newborn",
    "large_family",
    "disability",
    "violence",
    "low_income",
    "difficult_situation",
    "legal",
    "psychological",
    "loss",
    "housing",
    "employment",
    "documents",
    "partner_programme",
    "crisis",
    "children",
)

Text = dict[str, str]
TextList = dict[str, list[str]]

# A web address families can open: http(s), a host, no user:password@ part.
URL_PATTERN = re.compile(r"https?://[^\s/?#@:]+(:\d{1,5})?([/?#]\S*)?", re.IGNORECASE)
FIRST_REVIEW = date(2000, 1, 1)
# "Today" differs by a day between UTC and the families' time zones (Moscow, Makhachkala).
REVIEW_SLACK = timedelta(days=1)


def _plain_json(value: Any) -> bool:
    """Whether a value is what JSON holds (a condition is stored and compared as JSON)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(item) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    kind: Kind
    region: Region = "federal"
    title: Text
    summary: Text
    body: Text = Field(default_factory=dict)
    keywords: TextList = Field(default_factory=dict)
    questions: TextList = Field(default_factory=dict)
    topics: list[str] = Field(default_factory=list)
    eligibility: dict[str, Any] | None = None
    where: Text = Field(default_factory=dict)
    documents: TextList = Field(default_factory=dict)
    cities: list[str] = Field(default_factory=list)
    help: list[str] = Field(default_factory=list)
    address: Text = Field(default_factory=dict)
    phone: str | None = None
    url: str | None = None
    hours: Text = Field(default_factory=dict)
    source: str = Field(min_length=3)
    reviewed: date

    @field_validator("title", "summary")
    @classmethod
    def _has_source_language(cls, value: Text) -> Text:
        if not value.get("ru", "").strip():
            raise ValueError("needs a Russian text (ru)")
        return value

    @field_validator("eligibility")
    @classmethod
    def _eligibility(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if not _plain_json(value):
            raise ValueError("eligibility may hold only texts, numbers, true/false and lists")
        try:
            validate(value, "eligibility")
        except ConditionError as exc:
            raise ValueError(str(exc)) from exc
        unknown = set(variables(value)) - FINDER_VARS
        if unknown:
            raise ValueError(f"eligibility uses unknown variables {sorted(unknown)}")
        return value

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(TOPICS)
        if unknown:
            raise ValueError(f"unknown topics {sorted(unknown)}")
        return value

    @field_validator("help")
    @classmethod
    def _help(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(HELP_KINDS)
        if unknown:
            raise ValueError(f"unknown kinds of help {sorted(unknown)}")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\d+\-() ]{3,24}", value):
            raise ValueError(f"phone {value!r} has unexpected characters")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not URL_PATTERN.fullmatch(value):
            raise ValueError(f"url {value!r} is not an http(s) web address")
        return value

    @field_validator("reviewed")
    @classmethod
    def _reviewed(cls, value: date) -> date:
        # A date in the future would keep the entry off the list of ones to re-check.
        if not FIRST_REVIEW <= value <= date.today() + REVIEW_SLACK:
            raise ValueError(f"reviewed {value} is not between {FIRST_REVIEW} and today")
        return value

    @model_validator(mode="after")
    def _per_kind(self) -> Entry:
        if self.kind == "hotline" and not self.phone:
            raise ValueError("a hotline needs a phone")
        if self.kind == "organisation" and not self.cities:
            raise ValueError("an organisation needs cities (or [online])")
        return self

    def text(self, field_name: str, language: str) -> str:
        value: Text = getattr(self, field_name)
        return value.get(language) or value.get("ru", "")

    def texts(self, field_name: str, language: str) -> list[str]:
        value: TextList = getattr(self, field_name)
        return value.get(language) or value.get("ru", [])

    def eligible(self, answers: dict[str, Any]) -> bool:
        """Whether the finder's answers match this measure (region included)."""
        if self.region == "dagestan" and answers.get("region") != "dagestan":
            return False
        return evaluate(self.eligibility, answers)
