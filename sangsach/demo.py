"""The demo: the whole pipeline on one machine, on the embedded defaults.

A private Mosquitto, the backend on SQLite, one gateway and the simulated sample commune, with
simulated time running fast so that a night of lamps and a day of bins pass in minutes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .config import DEV_ADMIN_TOKEN, BackendSettings, SimulatorSettings, load
from .localbroker import LocalBroker, free_port
from .private_files import private_dir
from .registry_file import Commune, load_registry
from .sun import VIETNAM, dusk_dawn

if TYPE_CHECKING:
    from sangsach.simulators.clock import SimClock

BEFORE_DUSK = timedelta(minutes=30)  # the demo starts shortly before the last sunset
# collection rounds run from 06:00 to 10:00 local time (simulators/wastebin.py)
BEFORE_ROUNDS, ROUNDS_END = dtime(5, 30), dtime(10, 0)


def _spawn(command: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "sangsach", command], env=env, stdout=log, stderr=log
    )


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the backend stopped at start-up; see {log_path}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"the backend did not answer within 60 s; see {log_path}")


def demo_start(commune: Commune, now: datetime) -> datetime:
    """Half an hour before the last sunset, so the demo shows lamps switching on at dusk, or
    the last morning before the collection rounds if that is earlier, so it shows bins emptied
    too (Sạch): whenever it is started, both happen within its first minutes."""
    info = commune.commune
    today = now.astimezone(VIETNAM).date()
    before_dusk = None
    for day in (today, today - timedelta(days=1)):
        dusk, _ = dusk_dawn(info.latitude, info.longitude, day)
        if dusk - BEFORE_DUSK <= now:
            before_dusk = dusk - BEFORE_DUSK
            break
    if before_dusk is None:
        raise AssertionError("yesterday's sunset is always in the past")
    morning = datetime.combine(today, BEFORE_ROUNDS, VIETNAM)
    if datetime.combine(today, ROUNDS_END, VIETNAM) > now:  # today's rounds are not all done
        morning -= timedelta(days=1)
    return min(before_dusk, morning)


def _progress(api: httpx.Client, clock: SimClock) -> str:
    stats = api.get("/api/v1/stats").raise_for_status().json()
    readings, devices = stats["readings"], stats["devices"]
    dead = sum(stats["dead_letters"].values())
    lit = api.get("/api/v1/devices", params={"kind": "lamp"}).json()
    on = sum(1 for lamp in lit if (lamp["values"] or {}).get("on"))
    alerts = api.get("/api/v1/alerts", params={"active": True, "limit": 10_000})
    sms = api.get("/api/v1/sms/outbox", params={"limit": 10_000})
    local = datetime.fromtimestamp(clock.now(), VIETNAM).strftime("%d/%m %H:%M")
    return (
        f"[{local} giờ mô phỏng] {on}/{len(lit)} đèn đang sáng; "
        f"đã lưu {readings['lamp']} bản tin đèn, {readings['bin']} bản tin thùng rác; "
        f"{devices['online']} thiết bị trực tuyến, {devices['offline']} ngoại tuyến; "
        f"{dead} bản tin bị từ chối; {len(alerts.json())} cảnh báo đang mở, "
        f"{len(sms.json())} tin nhắn SMS"
    )


def run_demo(*, data_dir: Path, port: int, speed: float, minutes: float | None) -> None:
    from sangsach.simulators.clock import SimClock

    data_dir = data_dir.resolve()
    private_dir(data_dir)
    _clear_previous_run(data_dir)
    if port == 0:
        port = free_port()
    elif not _port_free(port):
        raise SystemExit(f"port {port} is in use: stop what uses it, or run the demo with --port")
    url = f"http://127.0.0.1:{port}"
    admin_token = load(BackendSettings).admin_token.get_secret_value()
    api = httpx.Client(base_url=url, timeout=5, headers={"Authorization": f"Bearer {admin_token}"})
    broker = LocalBroker(data_dir / "mosquitto").start()
    env = {
        **os.environ,
        "SANGSACH_DATA_DIR": str(data_dir),
        "SANGSACH_MQTT_PORT": str(broker.port),
        "SANGSACH_HTTP_PORT": str(port),
        "SANGSACH_BACKEND_URL": url,
        # Simulated evenings run at any hour of the real day: hold no SMS for the night.
        "SANGSACH_ALERT_QUIET_HOURS": os.environ.get("SANGSACH_ALERT_QUIET_HOURS", ""),
    }
    children: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    simulation: threading.Thread | None = None
    try:
        backend = _spawn("backend", env, data_dir / "backend.log")
        children.append(backend)
        _wait_healthy(url, backend, data_dir / "backend.log")
        children.append(_spawn("gateway", env, data_dir / "gateway.log"))
        settings = load(SimulatorSettings)
        commune = load_registry(settings.registry_file)
        devices = list(commune.devices())
        start = demo_start(commune, datetime.now(UTC))
        clock = SimClock(start, speed)
        print(_banner(url, broker.port, data_dir, len(devices), speed, start), flush=True)
        print(_login_help(url, admin_token), flush=True)
        print(_commands(data_dir, start), flush=True)
        simulation = threading.Thread(
            target=_simulate,
            kwargs={
                "commune": commune, "host": broker.host, "port": broker.port, "speed": speed,
                "seed": 1, "hours": None, "start": start,
                "bad_rate": 0.002, "ledger_path": None, "stop_event": stop,
            },
            name="simulation",
            daemon=True,
        )  # fmt: skip
        simulation.start()
        deadline = time.monotonic() + minutes * 60 if minutes else None
        while not stop.wait(10):
            print(_progress(api, clock), flush=True)
            if deadline and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        print("Đang dừng (stopping)...", flush=True)
        if simulation is not None:
            # The devices finish their last messages and disconnect while the broker is up.
            simulation.join(30)
        for child in reversed(children):
            child.terminate()
            child.wait(20)
        broker.stop()
        api.close()


# What a demo run leaves behind. The simulation is seeded and starts before the last sunset,
# so a second run the same day would replay the same readings, which the backend (rightly)
# stores once: its counts would not move. Each run starts from an empty store instead.
DEMO_FILES = ("*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.log", "gateway-*.json")


def _clear_previous_run(data_dir: Path) -> None:
    """Remove what an earlier demo run wrote there, and nothing else."""
    for pattern in DEMO_FILES:
        for path in data_dir.glob(pattern):
            path.unlink()
    shutil.rmtree(data_dir / "mosquitto", ignore_errors=True)


def _simulate(**kwargs: Any) -> None:
    """The simulated devices; a broken link ends them with one line, not a traceback."""
    from sangsach.simulators.fleet import FleetError
    from sangsach.simulators.run import run_simulation

    try:
        run_simulation(**kwargs)
    except FleetError as err:
        stopping = kwargs.get("stop_event")
        if isinstance(stopping, threading.Event) and stopping.is_set():
            return  # Ctrl-C reaches the broker too: losing it while stopping is expected
        lost = str(err).split("; ")
        print(
            f"Thiết bị mô phỏng dừng: {len(lost)} mất kết nối với broker "
            f"(simulated devices stopped: {len(lost)} lost the broker), e.g. {lost[0]}",
            file=sys.stderr,
            flush=True,
        )


def _login_help(url: str, admin_token: str) -> str:
    """How to sign in: the development admin token is shown; a token of your own is not."""
    own = admin_token != DEV_ADMIN_TOKEN
    shown = "mã trong SANGSACH_ADMIN_TOKEN (the token in it)" if own else admin_token
    in_curl = "$SANGSACH_ADMIN_TOKEN" if own else admin_token
    return f"""  Đăng nhập trang web (sign in):  {url}/dang-nhap
    Mã truy cập (access token, quyền quản trị / admin role): {shown}
    Gọi API (call the API): curl -H "Authorization: Bearer {in_curl}" {url}/api/v1/stats
"""


def _here(path: Path) -> str:
    """``path`` as typed from the current folder: relative when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _command() -> str:
    """How to type this ``sangsach``: its bare name when it is on PATH, else its path (in a
    checkout, ``.venv/bin/sangsach``)."""
    ours = Path(sys.executable).with_name("sangsach")
    on_path = shutil.which("sangsach")
    if on_path and Path(on_path).resolve() == ours.resolve():
        return "sangsach"
    return _here(ours)


def _commands(data_dir: Path, start: datetime) -> str:
    """The command line on the demo's own data: without SANGSACH_DATA_DIR a command opens
    ``var`` of the folder it runs in, which is not the demo's."""
    on_demo = f"SANGSACH_DATA_DIR={shlex.quote(_here(data_dir))} {_command()}"
    month = start.astimezone(VIETNAM).strftime("%Y-%m")
    return f"""  Dòng lệnh trên dữ liệu của bản chạy thử (commands on the demo's data):
    Cấp mã cho người khác (more tokens):  {on_demo} tokens add --role viewer --name van-phong
    Các mã đã cấp (tokens issued):        {on_demo} tokens list
    Báo cáo tháng (a month's report):     {on_demo} report --period {month} --out var/bao-cao
"""


def _banner(
    url: str, mqtt_port: int, data_dir: Path, devices: int, speed: float, start: datetime
) -> str:
    begins = start.astimezone(VIETNAM).strftime("%H:%M %d/%m")
    return f"""
sangsach — bản chạy thử (demo) đang chạy / is running
  Xã Chi Lăng Bắc: {devices} thiết bị mô phỏng (simulated devices)
  Thời gian mô phỏng bắt đầu {begins}, trước buổi thu gom rác sáng và trước hoàng hôn;
  nhanh gấp {speed:g} lần rồi theo giờ thật (simulated time starts before the morning's
  collection rounds and the last sunset, {speed:g}x faster, then real time)

  Xem ở đâu (where to look):
    Trang web của xã            {url}/
    API và tài liệu OpenAPI     {url}/docs
    Thống kê (stats)            {url}/api/v1/stats
    Thôn (villages)             {url}/api/v1/villages
    Thiết bị và trạng thái      {url}/api/v1/devices?village=dong-ha
    Bản tin bị từ chối          {url}/api/v1/dead-letters
    Cảnh báo (alerts)           {url}/api/v1/alerts?active=true
    Tin nhắn SMS (outbox)       {url}/api/v1/sms/outbox
    MQTT broker                 127.0.0.1:{mqtt_port}  (mosquitto_sub -p {mqtt_port} -t 'sangsach/v1/#' -v)
    Dữ liệu và nhật ký (logs)   {data_dir}

  Ctrl-C để dừng (to stop).
"""
