"""The shape of an inspection standard (检查标准) as data.

A standard file is YAML; it is loaded into these models and validated. The JSON form
(`pinjian standards show ID --json`) is a stable interface, so field names here are part of it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Comparator = Literal[">=", "<=", "=="]


class Level(BaseModel):
    """One scoring level: the score and the short condition shown on the button."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float = Field(ge=0)
    label: str = Field(min_length=1, max_length=24)


class Sample(BaseModel):
    """A sample the rule asks the inspector to take, e.g. 抽打10个电话 or 抽查3件回访信息.

    The bot walks the inspector through `size` samples, each recorded as pass or fail.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(ge=1, le=100)
    unit: str = Field(min_length=1)
    text: str = Field(min_length=1)
    pass_label: str = Field(min_length=1, max_length=12)
    fail_label: str = Field(min_length=1, max_length=12)


class Metric(BaseModel):
    """A measurable figure the inspector can enter, e.g. 接通率 >= 100 %."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    op: Comparator
    value: float
    unit: str = Field(min_length=1)

    def met_by(self, figure: float) -> bool:
        if self.op == ">=":
            return figure >= self.value
        if self.op == "<=":
            return figure <= self.value
        return figure == self.value


class Target(BaseModel):
    """Measurable targets stated by the item; `mode` says whether all or any must be met."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    metrics: tuple[Metric, ...] = Field(min_length=1)
    mode: Literal["all", "any"] = "all"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    no: int = Field(ge=1)
    content: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    max_score: float = Field(gt=0)
    levels: tuple[Level, ...] = Field(min_length=2)
    method: str = Field(min_length=1)
    sample: Sample | None = None
    target: Target | None = None
    note: str | None = None

    @field_validator("content", "rule", "method")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("不能为空")
        return value

    @model_validator(mode="after")
    def _levels_fit(self) -> Item:
        scores = [level.score for level in self.levels]
        if scores != sorted(scores, reverse=True):
            raise ValueError("levels 必须按分数从高到低排列")
        if len(set(scores)) != len(scores):
            raise ValueError("levels 中有重复的分数")
        if scores[0] != self.max_score:
            raise ValueError(f"最高档 {scores[0]:g} 分不等于分值 {self.max_score:g}")
        if scores[-1] != 0:
            raise ValueError("缺少 0 分档")
        return self

    def level_for(self, score: float) -> Level | None:
        return next((level for level in self.levels if level.score == score), None)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1)
    title: str = Field(min_length=1)
    items: tuple[Item, ...] = Field(min_length=1)

    @property
    def heading(self) -> str:
        return f"{self.code}、{self.title}"

    @property
    def max_score(self) -> float:
        return sum(item.max_score for item in self.items)


class Standard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,47}$")
    version: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1)
    sections: tuple[Section, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbers_contiguous(self) -> Standard:
        numbers = [item.no for section in self.sections for item in section.items]
        if len(set(numbers)) != len(numbers):
            duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
            raise ValueError(f"序号重复: {duplicates}")
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("序号必须从 1 开始连续递增")
        codes = [section.code for section in self.sections]
        if len(set(codes)) != len(codes):
            raise ValueError("章节编号重复")
        return self

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    @property
    def max_score(self) -> float:
        return sum(section.max_score for section in self.sections)

    def item(self, no: int) -> Item:
        for section in self.sections:
            for item in section.items:
                if item.no == no:
                    return item
        raise KeyError(no)

    def section_of(self, no: int) -> Section:
        for section in self.sections:
            if any(item.no == no for item in section.items):
                return section
        raise KeyError(no)

    def to_json_dict(self) -> dict[str, object]:
        """The stable JSON interface of `standards show --json`."""
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON form: equal content, equal hash."""
        canonical = json.dumps(self.to_json_dict(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
