"""`careloop up` as a user runs it: a real process tree, demo data, the gateway's /readyz, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from careloop_common.launcher.demo import DEMO_CELL_SITES, DEMO_PASSWORD
from careloop_common.launcher.parts import ALL_PARTS, STAND_INS
from careloop_common.natsserver import free_port

CARELOOP = str(Path(sys.executable).parent / "careloop")
RUN_PY = str(Path(__file__).resolve().parents[1] / "run.py")


def launcher_env(home: Path) -> dict[str, str]:
    """Free ports for every part, so the test never clashes with a running platform."""
    # Without CONTACT_SMSC_URLS / CONTACT_VOICE_URL the launcher starts the stand-ins, as on a fresh machine.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARELOOP_", "GATEWAY_", "CONTACT_"))}
    env.update(
        {
            "CARELOOP_HOME": str(home),
            "CARELOOP_NATS_PORT": str(free_port()),
            "CARELOOP_ADMIN_API_KEY": "launcher-test-admin-key-0123456789",
        }
    )
    for part in (*ALL_PARTS, *STAND_INS):
        env[f"{part.env_prefix}PORT"] = str(free_port())
    return env


def wait_ready(
    url: str, auth: dict[str, str], process: subprocess.Popen[bytes], timeout_s: float = 120
) -> None:
    """Wait for this platform's gateway: the admin key tells it from a parallel test's server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"careloop up exited with {process.returncode}"
        try:
            ours = httpx.get(f"{url}/gateway/v1/me", headers=auth, timeout=2).status_code == 200
            if ours and httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("platform not ready in time")


def test_up_serves_demo_data_and_stops_cleanly(tmp_path: Path) -> None:
    env = launcher_env(tmp_path / "state")
    gateway = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    auth = {"Authorization": f"Bearer {env['CARELOOP_ADMIN_API_KEY']}"}
    # README's command, so the stop below also proves run.py passes SIGTERM on to the platform.
    process = subprocess.Popen(
        [sys.executable, RUN_PY, "up", "--quiet"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(gateway, auth, process)
        descendants = psutil.Process(process.pid).children(recursive=True)
        # parts, stand-ins, nats-server, and the `uv run` and `careloop up` processes above them
        assert len(descendants) == len(ALL_PARTS) + len(STAND_INS) + 1 + 2

        def demo_visible() -> bool:
            listing = httpx.get(f"{gateway}/complaints/v1/complaints", headers=auth, timeout=5).json()
            return bool(listing["total"] >= 5)

        deadline = time.monotonic() + 30
        while not demo_visible():
            assert time.monotonic() < deadline, "demo complaints never appeared"
            time.sleep(0.3)

        # The demo network cells are registered (after the audience), so an incident can name them.
        def demo_sites() -> set[str]:
            listing = httpx.get(f"{gateway}/campaigns/v1/cell-sites", headers=auth, timeout=5).json()
            return {site["cell_id"] for site in listing["items"]}

        deadline = time.monotonic() + 60
        while demo_sites() != {site["cell_id"] for site in DEMO_CELL_SITES}:
            assert time.monotonic() < deadline, f"demo cell sites never appeared: {demo_sites()}"
            time.sleep(0.3)
        # The demo staff users can log in, and their roles decide what they reach.
        token = httpx.post(
            f"{gateway}/gateway/v1/login",
            json={"username": "engineer", "password": DEMO_PASSWORD},
            timeout=10,
        ).json()["access_token"]
        engineer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{gateway}/coverage/v1/investigations", headers=engineer).status_code == 200
        assert httpx.get(f"{gateway}/gateway/v1/users", headers=engineer).status_code == 403
        # The pages at the gateway's origin reach the gateway themselves: a staff login through them.
        with httpx.Client(base_url=gateway, timeout=10) as browser:
            assert "<html" in browser.get("/").text
            signed = browser.post("/login", data={"username": "engineer", "password": DEMO_PASSWORD})
            assert signed.status_code == 303, signed.text
            assert browser.get("/engineering").status_code == 200
        # An SMS through the gateway reaches the SMSC stand-in the launcher started, and is delivered.
        sms = httpx.post(
            f"{gateway}/contact/v1/requests",
            json={"msisdn": "+85291234567", "purpose": "service", "text": "careloop up works"},
            headers={**auth, "Idempotency-Key": "launcher-sms"},
            timeout=10,
        )
        assert sms.status_code == 201, sms.text
        deadline = time.monotonic() + 30
        while (
            status_now := httpx.get(
                f"{gateway}/contact/v1/requests/{sms.json()['id']}", headers=auth, timeout=5
            ).json()["status"]
        ) != "delivered":
            assert time.monotonic() < deadline, f"the SMS never got delivered: {status_now}"
            time.sleep(0.3)
        status = subprocess.run([CARELOOP, "status"], env=env, capture_output=True, text=True, check=False)
        assert status.returncode == 0, status.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "careloop stopped." in output
    assert not [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert (tmp_path / "state" / "demo-loaded").exists()
    assert (tmp_path / "state" / "complaints.db").exists()
