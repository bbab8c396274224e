"""The company's settings: one typed model, its defaults, Chinese descriptions and validation,
and the one resolver every reader goes through (site value, else company value, else default).

Where the values live: company values in the `settings` table (key → JSON; the reminder policy
is one `reminders` object), a site's own in its `settings` JSON, except its time zone and quiet
hours, which are columns of the site (every site has them; a site whose quiet hours equal the
company's follows the company's, see `bot.cli.settings_cmd`). Grade bands, deadlines, photos
and the digest are company-wide: one scale, so that sites compare.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)

from bot.core import ladder
from bot.core.ladder import Level, Rung
from bot.core.scoring import DEFAULT_GRADE_BANDS, GradeBands
from bot.core.texts import label, plain

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


def _bands_before(value: object) -> object:
    """{"优秀": 90, …} (an older form) is read as [[90, "优秀"], …]."""
    if isinstance(value, Mapping):
        return [[floor, name] for name, floor in value.items()]
    return value


def _bands_check(bands: tuple[tuple[float, str], ...]) -> GradeBands:
    if not bands:
        raise ValueError("empty")
    floors = [floor for floor, _ in bands]
    names = [name.strip() for _, name in bands]
    if any(not 0 < floor <= 100 for floor in floors) or len(set(floors)) != len(floors):
        raise ValueError("floors")
    if any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError("names")
    return tuple(sorted(zip(floors, names, strict=True), reverse=True))


def _distinct_days(days: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(days)) != len(days):
        raise ValueError("repeated")
    return tuple(sorted(days, reverse=True))


def _choices(days: tuple[int, ...]) -> tuple[int, ...]:
    if not days or len(set(days)) != len(days):
        raise ValueError("choices")
    return tuple(sorted(days))


def _severity_names(names: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(name.strip() for name in names)
    if any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError("names")
    return names


def _ladder_before(value: object) -> object:
    """Levels may be named in Chinese: [[3, "区域"]] is read as [[3, "region"]]."""
    if isinstance(value, list | tuple):
        return [
            [rung[0], ladder.NAMES.get(rung[1], rung[1])]
            if isinstance(rung, list | tuple) and len(rung) == 2 and isinstance(rung[1], str)
            else rung
            for rung in value
        ]
    return value


def _ladder_check(rungs: tuple[Rung, ...]) -> tuple[Rung, ...]:
    return ladder.check(rungs)


def _hours_before(value: object) -> object:
    """ "21:00-08:00" is read as ["21:00", "08:00"]."""
    if isinstance(value, str):
        return value.replace("–", "-").split("-")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("zone") from exc
    return value


Clock = Annotated[str, Field(pattern=CLOCK)]
Day = Annotated[int, Field(ge=1, le=365)]
Bands = Annotated[
    tuple[
        tuple[Annotated[int | float, Field(gt=0, le=100)], Annotated[str, Field(max_length=10)]],
        ...,
    ],
    BeforeValidator(_bands_before),
    AfterValidator(_bands_check),
]
BeforeDays = Annotated[
    tuple[Annotated[int, Field(ge=1, le=30)], ...],
    Field(max_length=5),
    AfterValidator(_distinct_days),
]
Ladder = Annotated[
    tuple[tuple[Annotated[int, Field(ge=1, le=365, strict=True)], Level], ...],
    Field(min_length=1, max_length=len(Level)),
    BeforeValidator(_ladder_before),
    AfterValidator(_ladder_check),
]
Holidays = Annotated[tuple[date, ...], Field(max_length=100)]
DueChoices = Annotated[tuple[Day, ...], Field(max_length=6), AfterValidator(_choices)]
QuietHours = Annotated[tuple[Clock, Clock], BeforeValidator(_hours_before)]
TimeZone = Annotated[str, AfterValidator(_zone)]
SeverityNames = Annotated[
    tuple[
        Annotated[str, Field(max_length=10)],
        Annotated[str, Field(max_length=10)],
        Annotated[str, Field(max_length=10)],
    ],
    AfterValidator(_severity_names),
]


def _key(*, per_site: bool = False, company: bool = True) -> Any:
    """Where a setting may be set; what it does and allows is in labels/setting_*.j2."""
    return {"per_site": per_site, "company": company}


class ReminderSettings(BaseModel):
    """The reminder policy (`bot.core.reminders.ReminderPolicy`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    before_days: BeforeDays = Field(
        default=(3, 1),
        json_schema_extra=_key(per_site=True),
    )
    at: Clock = Field(
        default="09:00",
        json_schema_extra=_key(per_site=True),
    )
    ladder: Ladder = Field(
        default=ladder.DEFAULT_LADDER,
        json_schema_extra=_key(per_site=True),
    )


class GroupPostSettings(BaseModel):
    """What a site's project group (项目群) is sent, and a region's group its escalations
    (`bot.flows.group_posts`). A region has no settings of its own, so `region_escalations`
    is company-wide only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inspection_result: StrictBool = Field(
        default=True,
        json_schema_extra=_key(per_site=True),
    )
    serious_findings: StrictBool = Field(
        default=True,
        json_schema_extra=_key(per_site=True),
    )
    overdue_daily: StrictBool = Field(
        default=True,
        json_schema_extra=_key(per_site=True),
    )
    fixes_verified: StrictBool = Field(
        default=True,
        json_schema_extra=_key(per_site=True),
    )
    region_escalations: StrictBool = Field(
        default=True,
        json_schema_extra=_key(),
    )


class CompanySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    grade_bands: Bands = Field(
        default=DEFAULT_GRADE_BANDS,
        json_schema_extra=_key(),
    )
    reminders: ReminderSettings = ReminderSettings()
    group_posts: GroupPostSettings = GroupPostSettings()
    quiet_hours: QuietHours = Field(
        default=("21:00", "08:00"),
        json_schema_extra=_key(per_site=True),
    )
    timezone: TimeZone = Field(
        default=DEFAULT_TIMEZONE,
        json_schema_extra=_key(per_site=True, company=False),
    )
    photo_required: StrictBool = Field(
        default=False,
        json_schema_extra=_key(),
    )
    default_due_days: Day = Field(
        default=7,
        json_schema_extra=_key(),
    )
    serious_due_days: Day = Field(
        default=3,
        json_schema_extra=_key(),
    )
    observation_due_days: Day = Field(
        default=15,
        json_schema_extra=_key(),
    )
    severity_names: SeverityNames = Field(
        default=("观察项", "一般不合格", "严重不合格"),
        json_schema_extra=_key(),
    )
    observation_min_score: float = Field(
        default=0.5,
        gt=0,
        le=100,
        json_schema_extra=_key(),
    )
    due_choices: DueChoices = Field(
        default=(3, 7, 15, 30),
        json_schema_extra=_key(),
    )
    manager_summaries: Literal["section", "final"] = Field(
        default="section",
        json_schema_extra=_key(per_site=True),
    )
    inspector_self_assign: StrictBool = Field(
        default=False,
        json_schema_extra=_key(per_site=True),
    )
    photo_max_age_hours: int = Field(
        default=24,
        ge=1,
        le=720,
        json_schema_extra=_key(),
    )
    reuse_max_distance: int = Field(
        default=3,
        ge=0,
        le=20,
        json_schema_extra=_key(),
    )
    reuse_days: Day = Field(
        default=90,
        json_schema_extra=_key(),
    )
    appeal_window_days: int = Field(
        default=3,
        ge=1,
        le=30,
        json_schema_extra=_key(),
    )
    holidays: Holidays = Field(
        default=(),
        json_schema_extra=_key(),
    )
    photo_max_distance_m: int = Field(
        default=500,
        ge=50,
        le=50_000,
        json_schema_extra=_key(),
    )
    """500 m: a phone's GPS is off by 5–20 m in the open and by 50–100 m or more between
    buildings or indoors, and the site's coordinates are one point (its gate) of an estate
    that can stretch several hundred metres; 500 m flags a photo from another estate, not one
    from the far corner of this one (docs/EVIDENCE.md)."""
    digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        default="mon",
        json_schema_extra=_key(),
    )
    digest_time: Clock = Field(
        default="09:00",
        json_schema_extra=_key(),
    )
    bulletin_day: int = Field(
        default=1,
        ge=1,
        le=28,
        json_schema_extra=_key(),
    )
    bulletin_time: Clock = Field(
        default="09:00",
        json_schema_extra=_key(),
    )


class Source(StrEnum):
    DEFAULT = "default"
    COMPANY = "company"
    SITE = "site"

    @property
    def label(self) -> str:
        return label("setting_source", self.value)


class SettingError(ValueError):
    """A value a setting does not allow; the message is one line naming the key and what is
    allowed."""


@dataclass(frozen=True)
class Key:
    """One setting as people name it: `grade_bands`, `reminders.at`, …"""

    name: str
    description: str
    allowed: str
    per_site: bool
    company: bool
    default: Any

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))

    @property
    def column(self) -> bool:
        """Kept in a column of the site (every site has a value of its own)."""
        return self.name in ("timezone", "quiet_hours")


def _keys(model: type[BaseModel], prefix: str = "") -> Iterator[Key]:
    defaults = model().model_dump(mode="json")
    for name, info in model.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from _keys(info.annotation, f"{prefix}{name}.")
            continue
        extra = info.json_schema_extra
        assert isinstance(extra, dict)
        macro = f"{prefix}{name}".replace(".", "__")
        yield Key(
            name=f"{prefix}{name}",
            description=plain("setting_descriptions", macro),
            allowed=plain("setting_allowed", macro),
            per_site=bool(extra["per_site"]),
            company=bool(extra["company"]),
            default=defaults[name],
        )


KEYS: dict[str, Key] = {key.name: key for key in _keys(CompanySettings)}


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    nested: Any = value
    for part in reversed(path):
        nested = {part: nested}
    assert isinstance(nested, dict)
    return nested


def _leaf(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The stored value at a key's path; None when not set."""
    found: Any = values
    for part in path:
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


def key(name: str) -> Key:
    known = KEYS.get(name)
    if known is None:
        raise SettingError(plain("errors", "unknown_setting", name=name, known=list(KEYS)))
    return known


def validate(name: str, value: Any) -> Any:
    """The value as stored (JSON), or SettingError naming the key and what it allows."""
    setting = key(name)
    try:
        checked = CompanySettings.model_validate(_nest(setting.path, value))
    except ValidationError:
        shown = json.dumps(value, ensure_ascii=False)
        raise SettingError(
            plain("errors", "setting_not_allowed", name=name, shown=shown, allowed=setting.allowed)
        ) from None
    return _leaf(checked.model_dump(mode="json"), setting.path)


class SiteLike(Protocol):
    """What the resolver reads of a site (`storage.records.Site`)."""

    @property
    def timezone(self) -> str: ...
    @property
    def quiet_start(self) -> str: ...
    @property
    def quiet_end(self) -> str: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...


class SettingsStore(Protocol):
    """The company's stored values (`storage.admin.SettingsRepo`)."""

    async def all(self) -> dict[str, Any]: ...


def site_values(site: SiteLike) -> dict[str, Any]:
    """A site's own values as stored: its settings JSON plus its time zone and quiet hours."""
    return {
        **site.settings,
        "timezone": site.timezone,
        "quiet_hours": [site.quiet_start, site.quiet_end],
    }


@dataclass(frozen=True)
class Resolved:
    """The settings in force (for a site, or company-wide) and where each value comes from."""

    values: CompanySettings
    sources: Mapping[str, Source]

    def value(self, name: str) -> Any:
        return _leaf(self.values.model_dump(mode="json"), KEYS[name].path)


def resolve(
    company: Mapping[str, Any],
    site: SiteLike | None = None,
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> Resolved:
    """Site value (where a key may be set per site), else company value, else the default.

    `timezone` is the default time zone (the deployment's PINJIAN_TIMEZONE). A stored value
    that is no longer valid (changed by hand) is logged and skipped, never fatal. A site's
    time zone and quiet hours count as the site's own only where they differ from what it
    would have otherwise. Results are kept per distinct input (the flows resolve on taps).
    """
    own = site_values(site) if site is not None else None
    return _resolve(json.dumps([company, own, timezone], sort_keys=True, ensure_ascii=False))


@lru_cache(maxsize=512)
def _resolve(stored: str) -> Resolved:
    company, own, timezone = json.loads(stored)
    chosen: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name, setting in KEYS.items():
        value = timezone if name == "timezone" else setting.default
        source = Source.DEFAULT
        layers = [(Source.COMPANY, company, setting.company)]
        layers.append((Source.SITE, own, setting.per_site and own is not None))
        for layer, values, applies in layers:
            raw = _leaf(values, setting.path) if applies else None
            if raw is None:
                continue
            try:
                checked = validate(name, raw)
            except SettingError:
                log.warning("setting %s (%s) is invalid (%r); ignored", name, layer, raw)
                continue
            if not (layer is Source.SITE and setting.column and checked == value):
                value, source = checked, layer
        chosen = _merge(chosen, _nest(setting.path, value))
        sources[name] = source
    return Resolved(CompanySettings.model_validate(chosen), sources)


def _merge(into: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(into)
    for name, value in new.items():
        old = merged.get(name)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[name] = _merge(old, value)
        else:
            merged[name] = value
    return merged


async def load(
    store: SettingsStore, site: SiteLike | None = None, *, timezone: str = DEFAULT_TIMEZONE
) -> Resolved:
    """The settings in force at a site (or company-wide, without one): `load(tx.settings, site)`."""
    return resolve(await store.all(), site, timezone=timezone)


async def for_site(store: SettingsStore, site: SiteLike | None = None) -> CompanySettings:
    return (await load(store, site)).values


async def grade_bands(store: SettingsStore, site: SiteLike | None = None) -> GradeBands:
    """The grade bands every grading uses (company-wide: the same for every site, so that
    sites compare; `site` is accepted so callers need not know)."""
    return (await load(store, site)).values.grade_bands
