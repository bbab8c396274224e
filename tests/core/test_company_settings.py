"""The settings model: every setting has a default and a Chinese description, refuses what it
does not allow with one line naming the key and what is allowed, and resolves site → company →
default."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core import company_settings
from bot.core.company_settings import KEYS, SettingError, Source, resolve, validate

INVALID: dict[str, list[Any]] = {
    "grade_bands": [[], [[90, "A"], [90, "B"]], [[120, "A"]], [[90, ""]], [[90, "A"], [80, "A"]]],
    "reminders.before_days": [[0], [3, 3], [1, 2, 3, 4, 5, 6], "soon"],
    "reminders.at": ["25:00", "9:00", "noon"],
    "reminders.ladder": [
        [],
        "x",
        [[0, "site"]],
        [[1.5, "site"]],
        [[1, "town"]],
        [[3, "site"], [1, "region"]],
        [[1, "site"], [1, "region"]],
        [[1, "region"], [3, "site"]],
        [[1, "site"], [3, "site"]],
        [[1, "site"], [2, "region"], [3, "company"], [4, "company"]],
        [[1, "site", "x"]],
    ],
    "quiet_hours": ["21:00", ["21:00"], "21:00-24:00", ["a", "b"]],
    "timezone": ["Mars/Olympus", ""],
    "photo_required": ["yes", 1, "maybe"],
    "default_due_days": [0, 366, "week"],
    "serious_due_days": [0, 366],
    "observation_due_days": [0, "month"],
    "severity_names": [["甲", "乙"], ["甲", "甲", "丙"], ["甲", " ", "丙"], "观察项"],
    "observation_min_score": [0, -1, 101, "half"],
    "due_choices": [[], [3, 3], [0, 7], [1, 2, 3, 4, 5, 6, 7]],
    "manager_summaries": ["all", ""],
    "inspector_self_assign": ["yes", 1],
    "group_posts.inspection_result": ["yes", 1],
    "group_posts.serious_findings": ["no", 0],
    "group_posts.overdue_daily": [None, "true"],
    "group_posts.fixes_verified": [[], 2],
    "group_posts.region_escalations": ["on", 0],
    "photo_max_age_hours": [0, 721, "day", 1.5],
    "reuse_max_distance": [-1, 21, "near"],
    "reuse_days": [0, 366, "month"],
    "appeal_window_days": [0, 31, "three"],
    "holidays": ["2026-10-01", ["2026-13-01"], ["十一"]],
    "photo_max_distance_m": [49, 50_001, "far", 1.5],
    "digest_day": ["monday", "周一"],
    "digest_time": ["9", "24:00"],
    "bulletin_day": [0, 29, "first", 1.5],
    "bulletin_time": ["9", "25:00"],
}


def site(**own: Any) -> Any:
    values = {"timezone": "Asia/Shanghai", "quiet_start": "21:00", "quiet_end": "08:00"}
    columns = {k: own.pop(k) for k in list(own) if k in values}
    return SimpleNamespace(**(values | columns), settings=own)


def test_every_setting_has_a_default_a_chinese_description_and_what_it_allows() -> None:
    assert set(KEYS) == set(INVALID)
    defaults = resolve({})
    for key in KEYS.values():
        assert key.description and key.allowed
        assert all(not ch.isascii() for ch in key.description[:2]), key.name
        assert defaults.sources[key.name] is Source.DEFAULT
        assert validate(key.name, key.default) == key.default
    assert defaults.value("reminders.before_days") == [3, 1]
    assert defaults.value("reminders.ladder") == [[1, "site"], [3, "region"], [7, "company"]]
    assert defaults.values.quiet_hours == ("21:00", "08:00")


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in INVALID.items() for v in vs])
def test_each_setting_refuses_what_it_does_not_allow(name: str, value: Any) -> None:
    with pytest.raises(SettingError) as refused:
        validate(name, value)
    message = str(refused.value)
    assert message.startswith(f"{name}：不能设为 ") and "；允许：" in message
    assert KEYS[name].allowed in message and "\n" not in message


def test_values_are_stored_in_one_form() -> None:
    assert validate("grade_bands", {"优秀": 90, "良好": 80}) == [[90, "优秀"], [80, "良好"]]
    assert validate("grade_bands", [[70, "合格"], [92.5, "优秀"]]) == [[92.5, "优秀"], [70, "合格"]]
    assert validate("quiet_hours", "22:00-07:00") == ["22:00", "07:00"]
    assert validate("reminders.before_days", [1, 3]) == [3, 1]
    assert validate("due_choices", [30, 3]) == [3, 30]
    assert validate("reminders.ladder", [[2, "项目"], [5, "公司"]]) == [[2, "site"], [5, "company"]]
    with pytest.raises(SettingError, match="没有设置项 nope；可用：grade_bands、"):
        validate("nope", 1)


def test_a_site_value_overrides_the_company_value_which_overrides_the_default() -> None:
    company = {"reminders": {"at": "10:00", "before_days": [5]}, "manager_summaries": "final"}
    at = site(reminders={"at": "08:30"}, quiet_start="22:00", quiet_end="06:00")
    resolved = resolve(company, at)
    assert resolved.values.reminders.at == "08:30"
    assert resolved.sources["reminders.at"] is Source.SITE
    assert resolved.values.reminders.before_days == (5,)
    assert resolved.sources["reminders.before_days"] is Source.COMPANY
    assert resolved.sources["reminders.ladder"] is Source.DEFAULT
    assert resolved.values.quiet_hours == ("22:00", "06:00")
    assert resolved.sources["quiet_hours"] is Source.SITE
    assert resolved.values.manager_summaries == "final"


def test_a_site_with_the_company_quiet_hours_follows_the_company() -> None:
    resolved = resolve({"quiet_hours": ["21:00", "08:00"]}, site())
    assert resolved.sources["quiet_hours"] is Source.COMPANY
    assert resolve({}, site()).sources["quiet_hours"] is Source.DEFAULT
    assert resolve({}, site(timezone="Asia/Urumqi")).sources["timezone"] is Source.SITE


def test_company_wide_settings_ignore_a_site_value() -> None:
    resolved = resolve({}, site(grade_bands=[[50, "好"]], photo_required=True))
    assert resolved.values.grade_bands == ((90, "优秀"), (80, "良好"), (70, "合格"))
    assert resolved.values.photo_required is False


def test_a_stored_value_changed_by_hand_into_nonsense_is_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=company_settings.__name__):
        resolved = resolve({"grade_bands": "nonsense", "reminders": {"at": "8"}})
    assert resolved.sources["grade_bands"] is Source.DEFAULT
    assert resolved.values.reminders.at == "09:00"
    assert "grade_bands" in caplog.text and "reminders.at" in caplog.text


def test_the_appeal_window_and_holidays_validate_and_default() -> None:
    assert resolve({}).values.appeal_window_days == 3
    assert resolve({}).values.holidays == ()
    assert validate("holidays", ["2026-10-01", "2026-10-02"]) == ["2026-10-01", "2026-10-02"]
    assert validate("appeal_window_days", 5) == 5
