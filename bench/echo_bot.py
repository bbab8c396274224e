"""A bare python-telegram-bot echo bot: the baseline for bench_telegram (same client library,
same fake server, no database and no flows). Answers text with the same text and a button
press with an edit, concurrently across chats like the real bot.

    python -m bench.echo_bot TOKEN API_URL FILE_URL
"""

from __future__ import annotations

import sys

from telegram import Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer()


def main() -> None:
    token, api_url, file_url = sys.argv[1:4]
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(api_url)
        .base_file_url(file_url)
        .concurrent_updates(256)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    application.run_polling(
        poll_interval=0, timeout=10, allowed_updates=["message", "callback_query"]
    )


if __name__ == "__main__":
    main()
