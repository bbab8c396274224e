"""Deriving scoring levels, method and sample size from a rule's free text (评分细则).

Used by the Excel importer; the built-in standards are transcribed by hand and carry their
levels explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from standards.schema import Level, Metric, Sample, Target

_PAREN = re.compile(r"[(（]([^()（）]*)[)）]")
_SPLIT = re.compile(r"[,，;；]")
_CLAUSES = re.compile(r"[,，;；()（）]")
_SCORED = re.compile(r"^(?P<pre>.*?)(?P<score>\d+(?:\.\d+)?)分(?P<post>.*)$")
_METHOD_WORDS = ("检查", "抽查", "核实", "查阅", "抽打")
_SAMPLE = re.compile(
    r"(?P<verb>抽查|抽打|抽检|抽)(?P<size>\d+)(?P<unit>件|个电话|户|名|份|处|个|次)"
)
_LEADING_JOINERS = ("并且", "并", "且", "及")
_TARGET_PATTERNS = (
    (
        re.compile(
            r"(?P<name>[\u4e00-\u9fff]{1,10}率)(?:应|达到|达|为)?(?P<v>\d+(?:\.\d+)?)%(?:以上)?"
        ),
        ">=",
        "%",
    ),
    (re.compile(r"(?P<name>[\u4e00-\u9fff]{1,10}率)不高于(?P<v>\d+(?:\.\d+)?)%"), "<=", "%"),
    (re.compile(r"(?P<name>[\u4e00-\u9fff]{1,8})不少于(?P<v>\d+)(?P<u>次|组|项|个)"), ">=", ""),
)

MAX_LABEL = 24


@dataclass
class DerivedRule:
    levels: list[Level]
    method: str | None
    sample: Sample | None
    problems: list[str] = field(default_factory=list)


def _clean_label(text: str) -> str:
    label = text.strip(" ,，;；。")
    for joiner in _LEADING_JOINERS:
        if label.startswith(joiner) and len(label) > len(joiner):
            label = label[len(joiner) :]
            break
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + "…"
    return label


def derive_sample(text: str) -> Sample | None:
    for clause in _CLAUSES.split(text):
        match = _SAMPLE.search(clause)
        if match is not None:
            return Sample(
                size=int(match.group("size")),
                unit=match.group("unit"),
                text=clause.strip(),
                pass_label="符合",
                fail_label="不符合",
            )
    return None


def derive_target(content: str) -> Target | None:
    metrics: list[Metric] = []
    for pattern, op, unit in _TARGET_PATTERNS:
        for match in pattern.finditer(content):
            metric_unit = unit or match.group("u")
            metrics.append(
                Metric(
                    name=match.group("name"), op=op, value=float(match.group("v")), unit=metric_unit
                )
            )
    if not metrics:
        return None
    return Target(text=content, metrics=tuple(metrics), mode="all")


def derive_rule(rule: str, max_score: float) -> DerivedRule:
    """Read levels like '有制度0.5分,并有效执行1分(检查…),不符合0分' out of the rule text."""
    problems: list[str] = []
    parentheticals = _PAREN.findall(rule)
    bare = _PAREN.sub("", rule)
    method: str | None = next(
        (p.strip() for p in parentheticals if any(w in p for w in _METHOD_WORDS)), None
    )
    by_score: dict[float, str] = {}
    for segment in _SPLIT.split(bare):
        segment = segment.strip()
        if not segment:
            continue
        match = _SCORED.match(segment)
        if match is None:
            if method is None and any(segment.startswith(w) or w in segment for w in _METHOD_WORDS):
                method = segment
            continue
        score = float(match.group("score"))
        label = _clean_label(match.group("pre") + match.group("post"))
        if not label:
            problems.append(f"{score:g}分档没有条件文字 (no condition for the {score:g} level)")
            label = f"{score:g}分"
        if score in by_score:
            problems.append(f"评分细则中 {score:g} 分出现多次 (score {score:g} appears twice)")
            continue
        by_score[score] = label
    levels = [Level(score=s, label=by_score[s]) for s in sorted(by_score, reverse=True)]
    if not levels:
        problems.append("评分细则中没有找到分档 (no scoring levels found in the rule)")
    else:
        if levels[0].score != max_score:
            problems.append(
                f"最高档 {levels[0].score:g} 分不等于分值 {max_score:g} (top level below max)"
            )
        if levels[-1].score != 0:
            problems.append("评分细则中没有 0 分档 (no 0 level in the rule)")
    return DerivedRule(levels=levels, method=method, sample=derive_sample(rule), problems=problems)


def generic_levels(max_score: float) -> list[Level]:
    return [
        Level(score=max_score, label="符合"),
        Level(score=max_score / 2, label="部分符合"),
        Level(score=0, label="不符合"),
    ]
