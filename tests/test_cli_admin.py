"""The admin CLI: sites, people, staff-sheet import, invites; against a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from bot.cli import main
from bot.cli.admin_cmd import parse_staff
from bot.flows import reminding
from bot.handlers.web.links import issue_login
from storage.db import Tx
from storage.records import Channel, Role, TaskEventKind, TaskStatus
from storage.tables import outbox
from tests.cliquery import query


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINJIAN_TELEGRAM_TOKEN", raising=False)
    monkeypatch.setenv("PINJIAN_TELEGRAM_BOT_USERNAME", "pinjian_bot")
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    return tmp_path / "data"


def test_site_and_person_add_with_roles(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "add", "阳光花园", "--timezone", "Asia/Shanghai"]) == 0
    assert main(["site", "add", "阳光花园"]) == 2
    assert "已存在" in capsys.readouterr().err
    assert main(["site", "add", "X", "--timezone", "Mars/Olympus"]) == 2
    assert "未知时区" in capsys.readouterr().err
    args = ["person", "add", "王检查", "--site", "阳光花园", "--role", "inspector"]
    assert main([*args, "--role", "manager", "--phone", "13800000000"]) == 0
    assert (
        main(
            [
                "person",
                "add",
                "张三",
                "--site",
                "阳光花园",
                "--role",
                "responsible",
                "--wecom-userid",
                "zhangsan",
            ]
        )
        == 0
    )
    assert main(["person", "add", "李四", "--site", "不存在", "--role", "inspector"]) == 2
    assert "没有这个项目" in capsys.readouterr().err

    async def check(tx: Tx) -> Any:
        (wang,) = await tx.people.find_by_name("王检查")
        grants = {g.role for g in await tx.roles.for_person(wang.id)}
        zhang = await tx.identities.resolve(Channel.WECOM, "zhangsan")
        audit = await tx.audit.recent()
        return wang.phone, grants, zhang, [a.action for a in audit]

    phone, grants, zhang, actions = query(data_dir, check)
    assert phone == "13800000000"
    assert grants == {Role.INSPECTOR, Role.MANAGER}
    assert zhang is not None and zhang[1].name == "张三"
    assert "site.add" in actions and "person.add" in actions


def test_invite_prints_deep_link_and_refuses_ambiguous_names(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["site", "add", "阳光花园"])
    main(["person", "add", "张伟", "--site", "阳光花园", "--role", "inspector"])
    capsys.readouterr()
    assert main(["invite", "create", "张伟"]) == 0
    out = capsys.readouterr().out
    code = out.splitlines()[1]
    assert len(code) <= 64 and code.replace("-", "").replace("_", "").isalnum()
    assert f"https://t.me/pinjian_bot?start={code}" in out
    main(["person", "add", "张伟", "--site", "阳光花园", "--role", "responsible"])
    assert "已有 1 人同名" in capsys.readouterr().out
    assert main(["invite", "create", "张伟"]) == 2
    err = capsys.readouterr().err
    assert "有 2 人名为 张伟，请改用编号" in err
    assert main(["invite", "create", "2", "--channel", "web"]) == 0
    assert "张伟（#2）" in capsys.readouterr().out
    assert main(["invite", "create", "无名氏"]) == 2
    assert main(["invite", "revoke", code]) == 0
    assert main(["invite", "revoke", code]) == 2


def test_staff_sheet_import_xlsx_and_csv(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [
        ("姓名", "手机", "项目", "角色"),
        ("王检查", "13800000001", "阳光花园", "检查员"),
        ("张三", "13800000002", "阳光花园", "责任人"),
        ("赵经理", "13800000003", "阳光花园", "经理、检查员"),
        ("赵经理", "13800000003", "翠湖苑", "经理"),
    ]:
        sheet.append(list(row))
    path = tmp_path / "staff.xlsx"
    workbook.save(path)
    assert main(["person", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "新增 3 人，更新 1 人" in out
    assert "新建了项目：阳光花园、翠湖苑" in out
    csv_path = tmp_path / "staff.csv"
    csv_path.write_text("姓名,手机,项目,角色\n李四,13800000004,翠湖苑,responsible\n", "utf-8")
    assert main(["person", "import", str(csv_path)]) == 0

    async def check(tx: Tx) -> Any:
        (zhao,) = await tx.people.find_by_name("赵经理")
        return len(await tx.people.all()), len(await tx.roles.for_person(zhao.id))

    assert query(data_dir, check) == (4, 3)


def test_staff_sheet_binds_wecom_userids(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for column in ("企业微信", "企业微信账号", "UserID"):
        (row,), problems = parse_staff(
            [["角色", column, "项目", "姓名"], ["经理", "Wu.1", "X", "吴"]]
        )
        assert (row.name, row.wecom_userid, problems) == ("吴", "Wu.1", [])
    add = "person add {} --site 阳光花园 --role inspector"
    assert main(["site", "add", "阳光花园"]) == 0
    assert main(add.format("王检查").split()) == 0
    assert main([*add.format("钱一").split(), "--wecom-userid", "qian"]) == 0
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for cells in [
        ("姓名", "手机", "项目", "角色", "企业微信账号"),
        ("王检查", None, "阳光花园", "检查员", "WangJianCha"),
        ("张三", "13800000002", "阳光花园", "责任人", "zhangsan"),
        ("赵经理", "13800000003", "阳光花园", "经理", None),
        ("赵经理", "13800000003", "翠湖苑", "经理", "zhao.jl@wy"),
    ]:
        sheet.append(list(cells))
    path = tmp_path / "staff.xlsx"
    workbook.save(path)
    capsys.readouterr()
    assert main(["person", "import", str(path)]) == 0
    assert "新增 2 人，更新 2 人" in capsys.readouterr().out
    assert main(["person", "import", str(path)]) == 0  # again: nothing new, nothing doubled
    refused = {
        "孙五,,阳光花园,责任人,zhangsan": "企业微信账号 zhangsan 已绑定其他人员",
        "张三,13800000002,阳光花园,责任人,zhang3": "张三 已绑定企业微信账号 zhangsan",
        "李四,,阳光花园,责任人,li si": "第2行：企业微信账号「li si」无效",
    }
    for line, problem in refused.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(f"姓名,手机,项目,角色,UserID\n{line}\n", "utf-8")
        assert main(["person", "import", str(bad)]) == 2
        assert problem in capsys.readouterr().err
    assert main([*add.format("周六").split(), "--wecom-userid", "qian"]) == 2
    assert "企业微信账号 qian 已绑定其他人员" in capsys.readouterr().err

    async def check(tx: Tx) -> Any:
        bound: dict[str, tuple[str, str | None, int]] = {}
        for userid in ("WangJianCha", "zhangsan", "zhao.jl@wy", "zhang3"):
            found = await tx.identities.resolve(Channel.WECOM, userid)
            if found is not None:
                identity, person = found
                count = len(await tx.identities.for_person(person.id))
                bound[userid] = (person.name, identity.chat_id, count)
        names = sorted(p.name for p in await tx.people.all())
        return bound, names

    bound, names = query(data_dir, check)
    assert bound == {
        "WangJianCha": ("王检查", "WangJianCha", 1),
        "zhangsan": ("张三", "zhangsan", 1),
        "zhao.jl@wy": ("赵经理", "zhao.jl@wy", 1),
    }
    assert names == sorted(["王检查", "钱一", "张三", "赵经理"])


def test_bad_staff_sheets_import_nothing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_role = tmp_path / "bad.csv"
    bad_role.write_text(
        "姓名,手机,项目,角色\n王五,1,阳光花园,保安\n李六,,阳光花园,检查员\n", "utf-8"
    )
    assert main(["person", "import", str(bad_role)]) == 2
    err = capsys.readouterr().err
    assert "第2行：角色「保安」无法识别" in err
    no_header = tmp_path / "nohdr.csv"
    no_header.write_text("a,b\n1,2\n", "utf-8")
    assert main(["person", "import", str(no_header)]) == 2
    assert "找不到表头" in capsys.readouterr().err
    assert main(["person", "import", str(tmp_path / "missing.xlsx")]) == 2
    not_excel = tmp_path / "x.xlsx"
    not_excel.write_bytes(b"junk")
    assert main(["person", "import", str(not_excel)]) == 2
    assert "不是有效的 Excel" in capsys.readouterr().err
    assert query(data_dir, lambda tx: tx.people.all()) == []


def test_a_leaver_is_deactivated_only_with_their_open_tasks_handed_to_a_colleague(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["site", "add", "阳光花园", "--timezone", "Asia/Shanghai"]) == 0
    for name, role in (("张三", "responsible"), ("李四", "responsible"), ("王检查", "inspector")):
        assert main(["person", "add", name, "--site", "阳光花园", "--role", role]) == 0

    async def seed(tx: Tx) -> dict[str, int]:
        (site,) = await tx.sites.all()
        people = {name: (await tx.people.find_by_name(name))[0].id for name in ("张三", "李四")}
        for name, chat in (("张三", "501"), ("李四", "502")):
            await tx.identities.bind(people[name], Channel.TELEGRAM, chat, chat_id=chat)
        await issue_login(tx, (await tx.people.find_by_name("张三"))[0])
        due = tx.now().date() + timedelta(days=7)
        ids = {}
        for label, owner in (
            ("open", "张三"),
            ("review", "张三"),
            ("done", "张三"),
            ("own", "李四"),
        ):
            task = await tx.tasks.create(
                site.id,
                f"楼道堆物（{label}）",
                created_by=None,
                due_date=due,
                responsible_person_id=people[owner],
            )
            if label == "review":
                task = await tx.tasks.transition(
                    task.id, task.version, TaskStatus.REVIEW, actor_id=None
                )
            if label == "done":
                task = await tx.tasks.transition(
                    task.id, task.version, TaskStatus.DONE, actor_id=None
                )
            await reminding.replan(tx, task, tx.now())
            ids[label] = task.id
        return {**people, **ids}

    seeded = query(data_dir, seed, write=True)

    def state(tx: Tx) -> Any:
        async def read() -> Any:
            zhang = await tx.people.get(seeded["张三"])
            tasks = {
                label: await tx.tasks.get(seeded[label]) for label in ("open", "review", "done")
            }
            return zhang, {label: t.responsible_person_id for label, t in tasks.items() if t}

        return read()

    before = query(data_dir, state)
    assert main(["person", "deactivate", "张三"]) == 2
    assert "还有 2 项未完成的整改任务" in capsys.readouterr().err
    assert main(["person", "deactivate", "张三", "--tasks-to", "王检查"]) == 2
    assert "王检查 不是这些项目的责任人：阳光花园" in capsys.readouterr().err
    assert main(["person", "deactivate", "张三", "--tasks-to", "张三"]) == 2
    assert "须是另一位在职人员" in capsys.readouterr().err
    assert query(data_dir, state) == before

    assert main(["person", "deactivate", "张三", "--tasks-to", "李四"]) == 0
    out = capsys.readouterr().out
    assert "解除 1 个项目角色、2 个聊天绑定" in out
    assert f"2 项整改任务转交 李四（#{seeded['open']}、#{seeded['review']}），已通知" in out

    async def check(tx: Tx) -> Any:
        zhang = await tx.people.get(seeded["张三"])
        tasks = {label: await tx.tasks.get(seeded[label]) for label in ("open", "review", "done")}
        events = await tx.tasks.events(seeded["open"])
        reminders = await tx.reminders.for_task(seeded["open"])
        told = (
            await tx.connection.execute(
                sa.select(outbox.c.chat_id, outbox.c.payload).where(outbox.c.chat_id == "502")
            )
        ).all()
        return (
            zhang,
            {label: t.responsible_person_id for label, t in tasks.items() if t},
            events[-1],
            # The 责任人's pending reminders (the ladder's rungs have no person).
            {r.person_id for r in reminders if r.cancelled_at is None and r.person_id is not None},
            await tx.roles.for_person(seeded["张三"]),
            await tx.identities.for_person(seeded["张三"]),
            await tx.identities.resolve(Channel.TELEGRAM, "501"),
            [row.payload["text"] for row in told],
            [a.action for a in await tx.audit.recent()],
        )

    zhang, owners, event, reminded, grants, identities, resolved, texts, audit = query(
        data_dir, check
    )
    assert zhang is not None and not zhang.active
    li = seeded["李四"]
    assert owners == {"open": li, "review": li, "done": seeded["张三"]}
    assert (event.kind, event.reason, event.data) == (
        TaskEventKind.REASSIGNED,
        "原责任人停用",
        {"from": seeded["张三"], "to": li},
    )
    assert reminded == {li}
    assert grants == [] and identities == [] and resolved is None
    (text,) = texts
    assert "张三 已停用，以下 2 项整改任务改由您负责" in text
    assert f"#{seeded['open']} 阳光花园：楼道堆物（open）" in text
    assert "person.deactivate" in audit

    assert main(["person", "deactivate", "张三", "--tasks-to", "李四"]) == 2
    assert "张三 已停用" in capsys.readouterr().err
    assert main(["invite", "create", f"#{seeded['张三']}"]) == 2
    assert f"#{seeded['张三']} 张三 已停用" in capsys.readouterr().err
    assert main(["person", "list"]) == 0
    assert "张三" not in capsys.readouterr().out
    # Someone of the same name hired later is a new person, and the name is not ambiguous.
    assert main(["person", "add", "张三", "--site", "阳光花园", "--role", "responsible"]) == 0
    assert "同名" not in capsys.readouterr().out
    assert main(["invite", "create", "张三"]) == 0


def test_a_person_without_open_tasks_is_deactivated_without_an_heir(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["site", "add", "阳光花园", "--timezone", "Asia/Shanghai"]) == 0
    assert main(["person", "add", "王检查", "--site", "阳光花园", "--role", "inspector"]) == 0
    assert main(["person", "deactivate", "王检查"]) == 0
    assert "已停用" in capsys.readouterr().out
    (wang,) = query(data_dir, lambda tx: tx.people.find_by_name("王检查"))
    assert not wang.active


def test_ill_formed_names_and_sheets_are_refused_in_one_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lone surrogate (a non-UTF-8 byte on the command line) or a NUL in a name or a staff
    sheet is refused with one line and exit 2; nothing is stored."""
    assert main(["site", "add", "阳光\udcff花园"]) == 2
    assert main(["person", "add", "王\x00五", "--site", "X", "--role", "inspector"]) == 2
    assert main(["person", "add", "王五", "--site", "阳光\ud800花园", "--role", "inspector"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all("无法保存的字符" in line for line in errors)
    sheet = tmp_path / "staff.csv"
    sheet.write_text("姓名,手机,项目,角色\n李\x00四,,阳光花园,责任人\n", "utf-8")
    assert main(["person", "import", str(sheet)]) == 2
    assert "第2行含有无法保存的字符" in capsys.readouterr().err
    assert query(data_dir, lambda tx: tx.people.all()) == []
    assert query(data_dir, lambda tx: tx.sites.all()) == []
