"""/settings (设置): a manager sees, in plain Chinese, the settings that affect them and their
sites' staff; changing them is the administrator's (`pinjian settings`)."""

from __future__ import annotations

from bot.core.scoring import below_bands
from bot.flows.context import FlowContext
from storage.records import Role


async def show(ctx: FlowContext) -> None:
    sites = await ctx.tx.roles.sites_with_role(ctx.person.id, Role.MANAGER)
    if not sites:
        await ctx.reply("not_allowed")
        return
    await ctx.reply(
        "settings",
        company=await ctx.settings_at(None),
        sites=[{"name": site.name, "in_force": await ctx.settings_at(site)} for site in sites],
        below=below_bands(),
    )
