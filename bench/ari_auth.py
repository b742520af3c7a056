"""What one ARI REST request costs Asterisk and the application, by password form and transport.

    nice .venv/bin/python bench/ari_auth.py [--requests 1000] [--rounds 2] [--octet 44]

Starts a sandbox of its own (carrier 127.0.0.<octet>, pbx next) whose ari.conf gets, besides the
application's user, one user per form of the same password (for this measurement only), and
sends the same cheap request (``GET /applications/<app>``) ``--requests`` times, one at a time,
as each user:

- over HTTP with basic auth: Asterisk checks the password of every request against ari.conf;
- over the event websocket (ARI's REST over WebSocket, Asterisk 20.14 / 21.9 / 22.4 and later),
  which one might expect to be authenticated once, when it opens: Asterisk 22 checks the
  credentials of the upgrade request again for every request sent over it;
- then through the application's own client (``AriClient``, the sandbox's ARI user), over HTTP
  and over the websocket (``rest_over_websocket``).

Prints, per request, Asterisk's CPU (utime + stime of its process, all threads) and this
process's (the client side: aiohttp or websockets, and JSON), then the wall time of a request.
CPU times are per process and hold up on a loaded machine; wall times do not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
from websockets.asyncio.client import connect as ws_connect  # noqa: E402

from loadbench.measure import process_cpu_ms  # noqa: E402
from reconnect_pbx.ari import AriClient  # noqa: E402
from reconnect_pbx.sandbox import Sandbox  # noqa: E402
from reconnect_pbx.sandbox.chroot import asterisk_root  # noqa: E402
from reconnect_pbx.sandbox.template import crypt_password  # noqa: E402

APP = "ari-auth-bench"
# The forms of the password, by ARI user: (password_format, crypt(3) setting or None).
USERS = {
    "sha512crypt": ("crypt", "$6$rounds=1000${salt}$"),  # the least SHA-512 crypt allows
    "md5crypt": ("crypt", "$1${salt}$"),
    "ours": ("crypt", None),  # template.crypt_password: what the sandbox and the installer write
    "plain": ("plain", None),
}


def libcrypt(password: str, setting: str) -> str:
    import ctypes

    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lib.crypt(password.encode(), setting.format(salt=secrets.token_hex(4)).encode()).decode()


def user_lines(password: str) -> list[str]:
    lines = []
    for user, (password_format, setting) in USERS.items():
        if password_format == "plain":
            stored = password
        else:
            stored = libcrypt(password, setting) if setting else crypt_password(password)
        lines += [f"[{user}]", "type = user", "read_only = no", f"password_format = {password_format}",
                  f"password = {stored}"]
    return lines


async def measure(pid: int, label: str, count: int, work: Callable[[], Awaitable[None]]) -> None:
    asterisk_before = process_cpu_ms(pid)
    ours_before = time.process_time()
    started = time.monotonic()
    await work()
    wall = (time.monotonic() - started) * 1000 / count
    ours = (time.process_time() - ours_before) * 1000 / count
    asterisk = (process_cpu_ms(pid) - asterisk_before) / count
    print(f"{label:<32} Asterisk {asterisk:.3f} ms  client {ours:.3f} ms  wall {wall:.3f} ms per request", flush=True)


async def http_requests(url: str, user: str, password: str, count: int) -> None:
    headers = {"Authorization": aiohttp.BasicAuth(user, password).encode()}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(count):
            async with session.get(f"{url}/ari/applications/{APP}") as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{user}: HTTP {response.status}")


async def websocket_requests(websocket, count: int) -> None:
    for _ in range(count):
        request_id = uuid.uuid4().hex
        await websocket.send(
            json.dumps({"type": "RESTRequest", "request_id": request_id, "method": "GET", "uri": f"applications/{APP}"})
        )
        while True:
            message = json.loads(await websocket.recv())
            if message.get("type") == "RESTResponse" and message.get("request_id") == request_id:
                if message.get("status_code") != 200:
                    raise RuntimeError(f"REST over the websocket: {message}")
                break


async def main_async(args: argparse.Namespace) -> int:
    password = secrets.token_urlsafe(24)
    sandbox = Sandbox.create(f"ariauth{args.octet}", args.octet, asterisk_root(), owner_pid=os.getpid())
    sandbox.pbx.appended_lines = {"ari.conf": user_lines(password)}
    sandbox.start()
    try:
        pbx = sandbox.pbx
        url = pbx.ari_url
        events = url.replace("http://", "ws://") + "/ari/events?subscribeAll=false&app="
        sockets = {}
        for user in USERS:
            auth = aiohttp.BasicAuth(user, password).encode()
            # One application per websocket: a second connection for the same name would replace it.
            sockets[user] = await ws_connect(events + f"{APP}-{user}", additional_headers={"Authorization": auth})
        async with ws_connect(events + APP, additional_headers={"Authorization": aiohttp.BasicAuth("plain", password).encode()}):
            n = args.requests
            await http_requests(url, "plain", password, 20)  # warm up
            for _ in range(args.rounds):
                for user in USERS:
                    await measure(pbx.pid, f"HTTP, {user}", n, lambda: http_requests(url, user, password, n))
                for user, websocket in sockets.items():
                    await measure(pbx.pid, f"websocket, {user}", n, lambda: websocket_requests(websocket, n))
        for websocket in sockets.values():
            await websocket.close()
        # The application's own client, as serve uses it: a request that may go over the websocket.
        for over_websocket in (False, True, False, True):
            client = AriClient(url, pbx.ari_user, pbx.ari_password, APP, rest_over_websocket=over_websocket)
            running = asyncio.create_task(client.run())
            await client.wait_connected(10)
            await client.set_global_variable("BENCH", "0")

            async def set_variables(client: AriClient = client) -> None:
                for i in range(n):
                    await client.set_global_variable("BENCH", str(i))

            label = "AriClient, " + ("websocket" if over_websocket else "HTTP")
            await measure(pbx.pid, label, n, set_variables)
            await client.close()
            running.cancel()
    finally:
        sandbox.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--octet", type=int, default=44, help="sandbox slot: carrier 127.0.0.<octet>, pbx next")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
