"""/通报 on Telegram: the real PTB client against the fake Bot API gets the summary and the
two files, drawn in the report worker on the way out."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from pypdf import PdfReader

from storage.records import Role
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner


async def test_manager_asks_for_the_bulletin(bot: BotRunner, fake: FakeTelegramAPI) -> None:
    seeded = await bot.seed()
    async with bot.db.transaction() as tx:
        await tx.roles.grant(seeded["people"]["赵经理"].id, None, Role.MANAGER)
    manager = fake.user(5004, "赵经理")
    await bot.act(manager.send_command("start", seeded["codes"]["赵经理"]))
    await bot.act(manager.send_text("/bulletin 2026-13"))
    assert fake.texts(manager.id)[-1].startswith("看不懂月份「2026-13」")
    await manager.send_text("通报")  # the files take a while: a worker process draws them

    def files() -> list[tuple[str, bytes]]:
        documents = fake.calls("sendDocument", ok=True)
        found = [
            (c.files["document"].filename or "", c.files["document"].data)
            for c in documents
            if c.params["chat_id"] == manager.id
        ]
        assert len(found) == 2
        return found

    (xlsx_name, xlsx), (pdf_name, pdf) = await fake.wait_for(files, timeout=90)
    assert re.match(r"📢 \d{4}年\d{1,2}月品质检查通报（全公司）", fake.texts(manager.id)[-3])
    assert re.fullmatch(r"品质检查通报_全公司_\d{4}-\d{2}\.xlsx", xlsx_name)
    assert pdf_name == xlsx_name.replace(".xlsx", ".pdf")
    book = load_workbook(io.BytesIO(xlsx))
    assert book["通报"]["A1"].value.endswith("品质检查通报")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "范围：全公司" in text and "阳光花园" in text
