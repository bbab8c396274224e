"""python-telegram-bot's Bot API requests carried by aiohttp instead of httpx.

python-telegram-bot talks to the Bot API through a replaceable ``BaseRequest``; its default,
httpx on anyio, cost several times more CPU per call, and every answered item is three calls
(docs/BENCHMARKS.md). aiohttp, which the bot already runs for the web chat,
does the same call for a fraction of that. Everything above the transport (parameters, files,
error mapping, the rate limiter, retries) stays python-telegram-bot's own.
"""

from __future__ import annotations

import json

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_USER_AGENT = "pinjian (python-telegram-bot transport over aiohttp)"
_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` on one aiohttp session with a bounded connection pool.

    Timeouts mean what they mean for python-telegram-bot's default transport: connect and
    pool waits together bound getting a connection, read bounds each wait for response data;
    an upload's write timeout (``media_write_timeout``) bounds the whole upload request.
    """

    def __init__(
        self,
        *,
        connection_pool_size: int = 16,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": _USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._timeout(read_timeout, self._read)
        connect = self._timeout(connect_timeout, self._connect)
        pool = self._timeout(pool_timeout, self._pool)
        files = request_data.multipart_data if request_data else None
        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        total: float | None = None
        if files:
            # Unicode file names as UTF-8, as Telegram and httpx expect (aiohttp would %-encode).
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (request_data.json_parameters if request_data else {}).items():
                form.add_field(name, value)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            data = form
            write = self._timeout(write_timeout, self._media_write)
            total = None if write is None or read is None else write + read
        elif request_data is not None:
            # A JSON body (which the Bot API takes as well as a form): no form encoding.
            data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            headers = _JSON
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if connect is None or pool is None else connect + pool,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error

    @staticmethod
    def _timeout(value: object, default: float | None) -> float | None:
        if value is BaseRequest.DEFAULT_NONE or not isinstance(value, int | float | None):
            return default
        return None if value is None else float(value)
