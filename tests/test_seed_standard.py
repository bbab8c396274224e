"""The built-in standard community-culture.yaml against the source dump it was transcribed from.

The dump (tests/fixtures/seed_community_culture.txt) is a PDF-to-text conversion: cells wrap
mid-word across spaces and lines, and row numbers (序号) and 分值 "1"s float away from their rows.
These tests check that every `content` and `rule` is the source text verbatim with only those
artefacts removed, and that the item ↔ text mapping is exactly the order of the dump.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from standards.schema import Item, Standard

ROOT = Path(__file__).resolve().parent.parent
YAML_PATH = ROOT / "standards" / "community-culture.yaml"
SEED_PATH = Path(__file__).resolve().parent / "fixtures" / "seed_community_culture.txt"

TITLE = "物业服务品质检查标准——社区文化管理"
SECTIONS = [
    ("一", "客户管理", 23),
    ("二", "业主及业主大会", 8),
    ("三", "客户服务", 20),
    ("四", "社区活动", 6),
    ("五", "宠物管理", 5),
]
PAGE_HEADER = "物业服务品质检查标准"
# Column headers of the 评分细则 table; they only ever appear between two rules.
COLUMN_HEADERS = {"分", "值", "责任人", "状态", "达标时间", "备注"}

# Between two characters of a cell: nothing, or whitespace with stray number tokens in it.
GAP = r"(?:\s+(?:\d+\s+)*)?"


@cache
def standard() -> Standard:
    raw = yaml.safe_load(YAML_PATH.read_text(encoding="utf-8"))
    return Standard.model_validate(raw)


@cache
def seed_parts() -> tuple[str, str]:
    """(items part, rules part) of the dump."""
    text = SEED_PATH.read_text(encoding="utf-8")
    start = text.index("标准内容 号") + len("标准内容 号")
    split = text.index("——评分细则")
    end = text.index(f"{PAGE_HEADER}.doc")
    return text[start:split], text[split + len("——评分细则") : end]


def cell_pattern(text: str) -> re.Pattern[str]:
    return re.compile(GAP.join(re.escape(ch) for ch in text))


def match_in_order(texts: list[str], part: str) -> list[re.Match[str]]:
    """Find each text in `part`, each one after the previous one; fail on the first miss."""
    matches: list[re.Match[str]] = []
    pos = 0
    for no, text in enumerate(texts, start=1):
        found = cell_pattern(text).search(part, pos)
        assert found is not None, f"item {no}: {text!r} not found in the dump after offset {pos}"
        matches.append(found)
        pos = found.end()
    return matches


def gaps(matches: list[re.Match[str]], part: str) -> list[str]:
    """The text before the first match, between consecutive matches and after the last one."""
    bounds = [0, *(x for m in matches for x in (m.start(), m.end())), len(part)]
    return [part[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]


def items() -> list[Item]:
    return standard().items


# --- shape ---------------------------------------------------------------------------------


def test_top_level_fields() -> None:
    std = standard()
    assert std.id == "community-culture"
    assert std.version == "2024.11"
    assert std.title == TITLE


def test_sections_and_counts() -> None:
    std = standard()
    assert [(s.code, s.title, len(s.items)) for s in std.sections] == SECTIONS
    assert [item.no for item in std.items] == list(range(1, 63))
    assert std.max_score == 62


def test_every_item_scores_one_and_levels_end_in_zero() -> None:
    for item in items():
        assert item.max_score == 1, item.no
        assert item.levels[0].score == 1, item.no
        assert item.levels[-1].score == 0, item.no
        labels = [level.label for level in item.levels]
        assert len(set(labels)) == len(labels), item.no
        assert item.method.strip(), item.no


def test_no_whitespace_left_in_cells() -> None:
    for item in items():
        for text in (item.content, item.rule):
            assert not re.search(r"\s", text), f"item {item.no}: whitespace in {text!r}"


# --- verbatim against the dump -------------------------------------------------------------


def test_contents_are_verbatim_and_in_item_order() -> None:
    part, _ = seed_parts()
    matches = match_in_order([item.content for item in items()], part)

    # Everything outside the 62 contents is a stray row number, a page header, a "." or the
    # heading of the section whose first item follows.
    first_item_of = {section.items[0].no: section.heading for section in standard().sections}
    for index, gap in enumerate(gaps(matches, part)):
        heading = first_item_of.get(index + 1)
        allowed = {PAGE_HEADER, TITLE, "."} | ({heading} if heading else set())
        strays = [tok for tok in gap.split() if not tok.isdigit() and tok not in allowed]
        assert strays == [], f"unplaced text before item {index + 1}: {strays}"
        if heading:
            assert heading in gap.split(), f"{heading} is not right before item {index + 1}"


def test_rules_are_verbatim_and_in_item_order() -> None:
    _, part = seed_parts()
    matches = match_in_order([item.rule for item in items()], part)

    # Everything outside the 62 rules is a stray 分值 "1", a page header or a column header;
    # the column headers occur once, between rule 7 and rule 8.
    with_headers = []
    for index, gap in enumerate(gaps(matches, part)):
        tokens = gap.split()
        strays = [
            tok for tok in tokens if tok != "1" and tok != PAGE_HEADER and tok not in COLUMN_HEADERS
        ]
        assert strays == [], f"unplaced text before rule {index + 1}: {strays}"
        if COLUMN_HEADERS & set(tokens):
            with_headers.append(index)
    assert with_headers == [7]


def test_stray_numbers_are_exactly_the_row_numbers_and_scores() -> None:
    items_part, rules_part = seed_parts()
    row_numbers = sorted(int(tok) for tok in items_part.split() if tok.isdigit())
    assert row_numbers == list(range(1, 63))
    scores = [tok for tok in rules_part.split() if tok.isdigit()]
    assert scores == ["1"] * 62


@pytest.mark.parametrize(
    ("no", "content", "rule"),
    [
        (
            3,
            "客户台帐、数据库、档案资料健全规范,建立客户回访制度,有效执行回访并详细记录",
            "有回访制度0.5分,有效执行并详细记录1分(根据客户台帐、数据库、档案资料、"
            "回访制度检查回访记录,抽查3件回访信息再次回访检查其有效性),不符合要求0分",
        ),
        (
            4,
            "24小时客户服务电话的接通率100%",
            "任意时间电话接通0.5分,接通率100%1分(任意时间抽打10个电话检查接通率),不符合要求0分",
        ),
        (
            31,
            "业主大会、业主委员会、业主对服务处的表扬、奖励或批评甚至导致业主群诉事件,记录详尽",
            "检查记录,通过部分业主进行核实,表扬奖励属实1分,部分属实0.5分,不属实或批评/群诉事件0分",
        ),
        (
            36,
            "公开的物业服务项目、标准、要求,与“销售合同”、《前期物业服务合同》中表述一致",
            "客户满意度调查逐年提升至少两个百分点;(最终维持在90%以上)",
        ),
        (
            39,
            "客户满意度调查逐年提升至少两个百分点;(最终维持在90%以上)",
            "检查客户满意度调查资料,符合1分,部分符合0.5分,不符合0分",
        ),
        (
            53,
            "制定有年度社区活动计划和实施方案,实施过程结果均以文字、照片、实物记录存档、展示,"
            "据此开展有意义、健康向上的社区文化活动,创建和谐的社区氛围记录详尽",
            "有计划、实施方案0.5分,并有效执行1分(检查计划、实施方案及实施记录),"
            "定期更换宣传信息并图文并茂1分(现场检查宣传栏和更换记录),不符合0分",
        ),
        (
            62,
            "小区内不得违反当地规定饲养家禽、家畜及宠物(大型犬只等),对违规客户实施制止措施,"
            "并发出口头、书面通知,并同步通报相关执法管理部门备案",
            "现场检查,符合1分,部分符合0.5分,不符合0分",
        ),
    ],
)
def test_spot_check_items(no: int, content: str, rule: str) -> None:
    item = standard().item(no)
    assert item.content == content
    assert item.rule == rule


def test_section_boundaries() -> None:
    std = standard()
    assert std.item(22).content == "客户满意度逐年递增"
    assert std.item(23).content == "每年至少1次征询业主对物业服务的意见,满意率80%以上"
    assert std.section_of(23).code == "一"
    assert std.section_of(24).code == "二"
    assert std.item(30).content.startswith("获得业主大会、业主委员会、业主等的支持追讨欠费")
    assert std.item(54).content.startswith("创造条件")
    assert std.item(55).content.startswith("定期(至少以季度为单位)")


# --- source defects --------------------------------------------------------------------------


def test_defective_items_carry_a_note() -> None:
    std = standard()
    for no in (1, 36, 44, 53):
        note = std.item(no).note
        assert note, f"item {no} should say what is wrong with the source"
    assert "合同不规范" in (std.item(1).note or "")
    assert "第39项" in (std.item(36).note or "")
    assert "第56项" in (std.item(53).note or "")
    # The documented defect itself: item 36's rule column holds item 39's content.
    assert std.item(36).rule == std.item(39).content


def test_generic_levels_where_the_rule_gives_none() -> None:
    labels = [level.label for level in standard().item(36).levels]
    assert labels == ["符合", "部分符合", "不符合"]
    item31 = [(lv.score, lv.label) for lv in standard().item(31).levels]
    assert item31 == [(1, "表扬奖励属实"), (0.5, "部分属实"), (0, "不属实或批评/群诉事件")]


# --- samples and targets -------------------------------------------------------------------

SAMPLES = {3: (3, "件"), 4: (10, "个电话"), 9: (3, "件"), 12: (3, "户"), 13: (1, "户")}
SAMPLES |= {35: (3, "名"), 47: (3, "户")}


def test_samples() -> None:
    for item in items():
        if item.no not in SAMPLES:
            assert item.sample is None, item.no
            continue
        assert item.sample is not None, item.no
        assert (item.sample.size, item.sample.unit) == SAMPLES[item.no]
        assert item.sample.text in item.rule, item.no
    sample4 = standard().item(4).sample
    assert sample4 is not None
    assert (sample4.pass_label, sample4.fail_label) == ("接通", "未接通")


def test_targets() -> None:
    expected = {4, 8, 11, 20, 21, 23, 39, 44, 47, 48, 55, 57}
    assert {item.no for item in items() if item.target is not None} == expected
    for item in items():
        if item.target is not None:
            assert item.target.text in item.content, item.no
    target39 = standard().item(39).target
    assert target39 is not None
    assert target39.mode == "any"
    assert [(m.op, m.value) for m in target39.metrics] == [(">=", 2), (">=", 90)]
    target47 = standard().item(47).target
    assert target47 is not None
    assert [(m.name, m.op, m.value) for m in target47.metrics] == [
        ("零修急修及时率", ">=", 100),
        ("返修率", "<=", 1),
    ]
