"""@-mentions in a project group: how a person is named in each kind of group.

WeCom group robots mention by the member's WeCom UserID (`mentioned_list`), else by mobile
number (`mentioned_mobile_list`); Telegram by a link to the person's account
(`tg://user?id=…`, which Telegram shows as a mention). Someone with neither is named in plain
text: a post never fails for want of a binding.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Who:
    """A person as a group post names them, with what each channel can mention them by."""

    name: str
    wecom_userid: str | None = None
    mobile: str | None = None
    telegram_id: str | None = None


@dataclass
class Mentions:
    """Collects the people a WeCom post mentions, in order and each once."""

    userids: list[str] = field(default_factory=list)
    mobiles: list[str] = field(default_factory=list)

    def add(self, who: Who) -> None:
        if who.wecom_userid:
            if who.wecom_userid not in self.userids:
                self.userids.append(who.wecom_userid)
        elif who.mobile and who.mobile not in self.mobiles:
            self.mobiles.append(who.mobile)


def inline(telegram: bool, who: Who, mentions: Mentions | None = None) -> str:
    """The person's name as HTML for the post's text: a mention link in a Telegram group; in a
    WeCom group the mention itself goes to `mentions` and the text keeps the name."""
    name = html.escape(who.name, quote=False)
    if telegram:
        if who.telegram_id and who.telegram_id.isdigit():
            return f'<a href="tg://user?id={who.telegram_id}">{name}</a>'
        return name
    if mentions is not None:
        mentions.add(who)
    return name
