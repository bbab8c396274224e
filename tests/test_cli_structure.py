"""The company's shape from the CLI: regions, sites in regions, roles held at a site, a region
or company-wide, `person show`, and the staff sheet that updates the people it knows;
against a real SQLite file. Every refusal is one line, exit status 2, and changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import Tx
from storage.records import Channel
from tests.cliquery import query


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    return tmp_path / "data"


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> None:
    """The command fails with exit status 2 and one line (or argparse's usage error)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for text in expected:
        assert text in captured.err
    assert "Traceback" not in captured.err


def grants(data_dir: Path, name: str) -> set[tuple[str, str]]:
    """The person's roles as (where, role): a site's name, "region:NAME" or "company"."""

    async def work(tx: Tx) -> set[tuple[str, str]]:
        (person,) = await tx.people.find_by_name(name)
        found = set()
        for grant in await tx.roles.for_person(person.id):
            if grant.site_id is not None:
                site = await tx.sites.get(grant.site_id)
                assert site is not None
                found.add((site.name, grant.role.value))
            elif grant.region_id is not None:
                region = await tx.regions.get(grant.region_id)
                assert region is not None
                found.add((f"region:{region.name}", grant.role.value))
            else:
                found.add(("company", grant.role.value))
        return found

    result: set[tuple[str, str]] = query(data_dir, work)
    return result


def audit_actions(data_dir: Path) -> list[str]:
    async def work(tx: Tx) -> list[str]:
        return [entry.action for entry in reversed(await tx.audit.recent(limit=200))]

    result: list[str] = query(data_dir, work)
    return result


def test_regions_and_the_sites_in_them(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["region", "add", "华东"]) == 0
    assert main(["region", "add", "华南"]) == 0
    assert "已新建区域" in capsys.readouterr().out
    refused(capsys, ["region", "add", "华东"], "区域 华东 已存在")
    refused(capsys, ["region", "add", " "], "区域名称不能为空")
    assert main(["site", "add", "阳光花园", "--region", "华东"]) == 0
    assert "华东区域" in capsys.readouterr().out
    refused(
        capsys, ["site", "add", "翠湖苑", "--region", "华北"], "没有这个区域 unknown region: 华北"
    )
    assert main(["site", "add", "翠湖苑"]) == 0
    assert main(["site", "add", "金色家园", "--region", "2"]) == 0
    capsys.readouterr()
    assert main(["region", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == ["#1\t华东\t阳光花园", "#2\t华南\t金色家园", "未分区域\t翠湖苑"]
    assert main(["site", "set", "翠湖苑", "--region", "华东"]) == 0
    assert capsys.readouterr().out.strip() == "项目 翠湖苑 现属于 华东 区域"
    assert main(["site", "set", "金色家园", "--region", "华东"]) == 0
    assert "原属 华南" in capsys.readouterr().out
    refused(capsys, ["site", "set", "金色家园", "--region", "华东"], "已属于 华东 区域")
    refused(capsys, ["site", "set", "翠湖苑", "--region", "华北"], "没有这个区域")
    refused(capsys, ["site", "set", "不存在", "--region", "华东"], "没有这个项目")
    refused(capsys, ["site", "set", "翠湖苑"], "--region")
    assert main(["region", "list", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "regions": [
            {
                "id": 1,
                "name": "华东",
                "sites": [
                    {"id": 2, "name": "翠湖苑"},
                    {"id": 3, "name": "金色家园"},
                    {"id": 1, "name": "阳光花园"},
                ],
            },
            {"id": 2, "name": "华南", "sites": []},
        ],
        "unassigned": [],
    }
    assert main(["site", "list"]) == 0
    assert "阳光花园\t华东\tAsia/Shanghai" in capsys.readouterr().out
    actions = audit_actions(data_dir)
    assert actions.count("region.add") == 2
    assert actions.count("site.region") == 2
    assert actions.count("site.add") == 3


def test_roles_at_a_site_a_region_and_the_company(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["region", "add", "华东"])
    main(["region", "add", "华南"])
    main(["site", "add", "阳光花园", "--region", "华东"])
    main(["site", "add", "翠湖苑", "--region", "华东"])
    main(["site", "add", "金色家园", "--region", "华南"])
    for name in ("赵经理", "钱品质", "孙区域"):
        assert main(["person", "add", name, "--site", "阳光花园", "--role", "responsible"]) == 0
    capsys.readouterr()
    role = ["person", "role", "add"]
    # A person already known takes a role at another site: no second person.
    assert main([*role, "赵经理", "--role", "inspector", "--site", "金色家园"]) == 0
    assert capsys.readouterr().out.strip() == "赵经理（#1）现为项目 金色家园的检查员"
    assert main([*role, "孙区域", "--role", "manager", "--region", "华东"]) == 0
    assert "华东区域（所有项目）的经理" in capsys.readouterr().out
    assert main([*role, "钱品质", "--role", "inspector", "--company"]) == 0
    assert "全公司的检查员" in capsys.readouterr().out
    before = audit_actions(data_dir)
    refused(capsys, [*role, "赵经理", "--role", "manager", "--region", "华北"], "没有这个区域")
    refused(capsys, [*role, "赵经理", "--role", "manager", "--site", "火星"], "没有这个项目")
    refused(capsys, [*role, "无名氏", "--role", "manager", "--company"], "没有名为 无名氏 的人员")
    refused(capsys, [*role, "赵经理", "--role", "boss", "--company"], "invalid choice")
    refused(capsys, [*role, "赵经理", "--role", "manager"], "--site")
    refused(
        capsys,
        [*role, "赵经理", "--role", "manager", "--site", "阳光花园", "--company"],
        "not allowed with",
    )
    # The same role at two levels for one site: covered from above, refused.
    refused(
        capsys,
        [*role, "孙区域", "--role", "manager", "--site", "翠湖苑"],
        "孙区域 已在华东区域（所有项目）担任经理，已覆盖项目 翠湖苑",
    )
    refused(
        capsys,
        [*role, "钱品质", "--role", "inspector", "--region", "华南"],
        "钱品质 已在全公司担任检查员",
    )
    refused(capsys, [*role, "孙区域", "--role", "manager", "--region", "华东"], "已是华东区域")
    assert audit_actions(data_dir) == before
    assert grants(data_dir, "孙区域") == {("阳光花园", "responsible"), ("region:华东", "manager")}
    # A higher level replaces the same role held lower down.
    assert main([*role, "赵经理", "--role", "inspector", "--company"]) == 0
    assert "取代了其原有的：项目 金色家园" in capsys.readouterr().out
    assert grants(data_dir, "赵经理") == {("阳光花园", "responsible"), ("company", "inspector")}

    remove = ["person", "role", "remove"]
    refused(
        capsys,
        [*remove, "孙区域", "--role", "manager", "--site", "阳光花园"],
        "孙区域 不是项目 阳光花园的经理（其经理角色在：华东区域（所有项目））",
    )
    refused(capsys, [*remove, "孙区域", "--role", "inspector", "--company"], "不是全公司的检查员")
    assert main([*remove, "孙区域", "--role", "manager", "--region", "华东"]) == 0
    assert "已移除 孙区域（#3）在华东区域（所有项目）的经理角色" in capsys.readouterr().out
    assert grants(data_dir, "孙区域") == {("阳光花园", "responsible")}

    async def people(tx: Tx) -> int:
        return len(await tx.people.all())

    assert query(data_dir, people) == 3
    actions = audit_actions(data_dir)
    assert actions.count("role.add") == 4
    assert actions.count("role.remove") == 1


def test_removing_the_last_manager_of_a_site_with_pending_extensions_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decision: refused (nobody could decide the request), and so is moving the site out of
    its only manager's region; granting the successor first makes the removal possible."""
    main(["region", "add", "华东"])
    main(["site", "add", "阳光花园", "--region", "华东"])
    main(["site", "add", "翠湖苑", "--region", "华东"])
    main(["person", "add", "张三", "--site", "阳光花园", "--role", "responsible"])
    main(["person", "add", "赵经理", "--site", "阳光花园", "--role", "manager"])
    main(["person", "add", "孙区域", "--site", "翠湖苑", "--role", "responsible"])
    main(["person", "role", "add", "孙区域", "--role", "manager", "--region", "华东"])

    async def ask_extension(tx: Tx) -> None:
        site = await tx.sites.by_name("阳光花园")
        (zhang,) = await tx.people.find_by_name("张三")
        assert site is not None
        due = tx.now().date() + timedelta(days=3)
        task = await tx.tasks.create(
            site.id, "楼道堆物", created_by=None, due_date=due, responsible_person_id=zhang.id
        )
        await tx.tasks.request_extension(task.id, zhang.id, due + timedelta(days=7), reason="")

    query(data_dir, ask_extension, write=True)
    capsys.readouterr()
    remove = ["person", "role", "remove"]
    # The region manager still covers 阳光花园: the site manager may go.
    assert main([*remove, "赵经理", "--role", "manager", "--site", "阳光花园"]) == 0
    capsys.readouterr()
    before = audit_actions(data_dir)
    refused(
        capsys,
        [*remove, "孙区域", "--role", "manager", "--region", "华东"],
        "未更改：阳光花园 还有 1 个待审批的延期申请",
    )
    # Moving the site out of the manager's region would leave it without one just as well.
    main(["region", "add", "华南"])
    capsys.readouterr()
    before = audit_actions(data_dir)
    refused(capsys, ["site", "set", "阳光花园", "--region", "华南"], "未更改：阳光花园 还有 1 个")
    assert audit_actions(data_dir) == before
    assert ("region:华东", "manager") in grants(data_dir, "孙区域")
    assert main(["person", "role", "add", "赵经理", "--role", "manager", "--company"]) == 0
    assert main([*remove, "孙区域", "--role", "manager", "--region", "华东"]) == 0


def test_person_show_lists_roles_bindings_and_open_tasks(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["region", "add", "华东"])
    main(["site", "add", "阳光花园", "--region", "华东"])
    main(["person", "add", "张三", "--site", "阳光花园", "--role", "responsible", "--phone", "138"])
    main(["person", "role", "add", "张三", "--role", "inspector", "--region", "华东"])
    main(["person", "add", "李四", "--site", "阳光花园", "--role", "responsible"])

    async def seed(tx: Tx) -> None:
        site = await tx.sites.by_name("阳光花园")
        (zhang,) = await tx.people.find_by_name("张三")
        assert site is not None
        await tx.identities.bind(zhang.id, Channel.TELEGRAM, "501", chat_id="501")
        today = tx.now().date()
        for finding, days in (("楼道堆物", -2), ("灯不亮", 5)):
            await tx.tasks.create(
                site.id,
                finding,
                created_by=None,
                due_date=today + timedelta(days=days),
                responsible_person_id=zhang.id,
            )

    query(data_dir, seed, write=True)
    capsys.readouterr()
    assert main(["person", "show", "张三"]) == 0
    text = capsys.readouterr().out
    assert "#1 张三\t手机 138" in text
    assert "项目 阳光花园\t责任人" in text
    assert "华东区域（所有项目）\t检查员" in text
    assert "telegram\t501" in text
    assert "待办整改任务：2 项" in text
    assert "待整改（逾期）" in text and "楼道堆物" in text
    assert main(["person", "show", "1", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["name"] == "张三"
    assert {(r["role"], r["level"]) for r in document["roles"]} == {
        ("responsible", "site"),
        ("inspector", "region"),
    }
    assert [b["channel"] for b in document["bindings"]] == ["telegram"]
    assert [(t["finding"], t["overdue"]) for t in document["open_tasks"]] == [
        ("楼道堆物", True),
        ("灯不亮", False),
    ]
    assert main(["person", "show", "李四"]) == 0
    assert "绑定：无" in capsys.readouterr().out
    refused(capsys, ["person", "show", "王五"], "没有名为 王五 的人员")


def _sheet(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", "utf-8")
    return path


def test_staff_sheet_with_regions_and_levels_updates_the_people_it_knows(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Matched by phone, then WeCom UserID, then a unique name; never duplicated."""
    main(["site", "add", "阳光花园"])
    main(["person", "add", "王检查", "--site", "阳光花园", "--role", "inspector", "--phone", "1"])
    main(["person", "add", "钱一", "--site", "阳光花园", "--role", "inspector"])
    main(["person", "add", "周二", "--site", "阳光花园", "--role", "responsible"])
    main(["person", "add", "吴三", "--site", "阳光花园", "--role", "responsible"])
    capsys.readouterr()
    main(["person", "add", "吴三", "--site", "阳光花园", "--role", "responsible"])
    assert "给已有人员加角色请用 pinjian person role add" in capsys.readouterr().out
    main(["person", "role", "add", "钱一", "--role", "responsible", "--site", "阳光花园"])

    async def bind(tx: Tx) -> None:
        (qian,) = await tx.people.find_by_name("钱一")
        await tx.identities.bind(qian.id, Channel.WECOM, "qian", chat_id="qian")

    query(data_dir, bind, write=True)
    sheet = _sheet(
        tmp_path / "staff.csv",
        [
            "姓名,手机,区域,项目,级别,角色,企业微信",
            "王检查,1,华东,阳光花园,项目,经理,",  # by phone
            "钱一,2,华东,,区域,经理,qian",  # by WeCom UserID (and the phone is added)
            "周二,3,华东,翠湖苑,,责任人,",  # by the unique name
            "吴三,4,华东,翠湖苑,项目,责任人,",  # two of that name: a new person
            "郑品质,5,,,公司,检查员,",  # new, company-wide
            "孙区域,6,华南,,区域,经理、检查员,",  # new, at a new region
        ],
    )
    capsys.readouterr()
    assert main(["person", "import", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "新增 3 人，更新 3 人" in out
    assert "新建了区域：华东、华南" in out
    assert "新建了项目：翠湖苑" in out
    assert main(["person", "import", str(sheet)]) == 0  # again: every row is known now
    assert "新增 0 人，更新 6 人" in capsys.readouterr().out

    async def people(tx: Tx) -> dict[str, list[str | None]]:
        found: dict[str, list[str | None]] = {}
        for person in await tx.people.all():
            found.setdefault(person.name, []).append(person.phone)
        return found

    assert query(data_dir, people) == {
        "王检查": ["1"],
        "钱一": ["2"],
        "周二": ["3"],
        "吴三": [None, None, "4"],
        "郑品质": ["5"],
        "孙区域": ["6"],
    }
    assert grants(data_dir, "王检查") == {("阳光花园", "inspector"), ("阳光花园", "manager")}
    assert grants(data_dir, "钱一") == {
        ("阳光花园", "inspector"),
        ("阳光花园", "responsible"),
        ("region:华东", "manager"),
    }
    assert grants(data_dir, "周二") == {("阳光花园", "responsible"), ("翠湖苑", "responsible")}
    assert grants(data_dir, "郑品质") == {("company", "inspector")}
    assert grants(data_dir, "孙区域") == {("region:华南", "manager"), ("region:华南", "inspector")}

    async def regions(tx: Tx) -> dict[str, str | None]:
        names = {r.id: r.name for r in await tx.regions.all()}
        return {s.name: names.get(s.region_id or 0) for s in await tx.sites.all()}

    assert query(data_dir, regions) == {"阳光花园": "华东", "翠湖苑": "华东"}

    before = audit_actions(data_dir)
    wrong = {
        "郑品质,1,,阳光花园,,检查员,": "第2行：手机 1 已属于 #1 王检查，与姓名 郑品质 不符",
        "孙五,,,阳光花园,,责任人,qian": "企业微信账号 qian 已绑定其他人员（#2 钱一）",
        "新人,9,华南,阳光花园,,责任人,": "第2行：项目 阳光花园 属于 华东 区域，表中为 华南",
        "新人,9,,,集团,责任人,": "第2行：级别「集团」无法识别（项目/区域/公司）",
        "新人,9,,,区域,责任人,": "第2行：区域级角色须填写区域",
    }
    for line, problem in wrong.items():
        bad = _sheet(tmp_path / "bad.csv", ["姓名,手机,区域,项目,级别,角色,企业微信", line])
        refused(capsys, ["person", "import", str(bad)], problem)
    assert audit_actions(data_dir) == before
    assert "新人" not in query(data_dir, people)


def site_position(data_dir: Path, name: str) -> tuple[float | None, float | None]:
    async def work(tx: Tx) -> tuple[float | None, float | None]:
        site = await tx.sites.by_name(name)
        assert site is not None
        return site.latitude, site.longitude

    result: tuple[float | None, float | None] = query(data_dir, work)
    return result


def test_site_coordinates(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "add", "阳光花园"]) == 0
    capsys.readouterr()
    assert main(["site", "set", "阳光花园", "--coords", "31.2304,121.4737"]) == 0
    assert capsys.readouterr().out.strip() == "项目 阳光花园 坐标：31.2304,121.4737"
    assert site_position(data_dir, "阳光花园") == (31.2304, 121.4737)
    assert "site.coords" in audit_actions(data_dir)
    for bad, says in (
        ("31.2304", "坐标格式应为 纬度,经度"),
        ("北纬31,东经121", "坐标格式应为 纬度,经度"),
        ("121.4737,31.2304,0", "坐标格式应为 纬度,经度"),
        ("121.4737,231.2304", "坐标超出范围"),
        ("91,121", "坐标超出范围"),
        ("0,0", "坐标超出范围"),
    ):
        refused(capsys, ["site", "set", "阳光花园", "--coords", bad], says)
    assert site_position(data_dir, "阳光花园") == (31.2304, 121.4737)  # unchanged
    refused(capsys, ["site", "set", "不存在", "--coords", "31,121"], "没有这个项目")
    assert main(["site", "set", "阳光花园", "--coords", "31.23，121.47"]) == 0  # a CJK comma
    assert site_position(data_dir, "阳光花园") == (31.23, 121.47)
    assert main(["site", "set", "阳光花园", "--coords", "无"]) == 0
    assert "已清除坐标" in capsys.readouterr().out
    assert site_position(data_dir, "阳光花园") == (None, None)
