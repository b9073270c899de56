"""Contact gateway: accepted-to-submit_sm throughput and latency, beside a bare SMPP client loop.

One run, one SMSC stand-in (smpp34 server, receipts on) in this process:

  baseline  a bare smpp34 client in a child process submits N messages to the stand-in, the same
            window, registered delivery, reading receipts: what the SMPP stack alone does here
  gateway   the contact-gateway service (uvicorn, SQLite, its own nats-server) takes the same N
            messages through POST /contact/v1/request-batches (1,000 a batch) and sends them to the
            stand-in: policy, queue, leases, per-part records, receipts and outbox events included;
            the clock runs from the first request, so intake shares the CPU with sending
  queued    the same, but the messages are accepted ahead with a not_before a little after intake
            ends (a campaign wave queued for its hour): the clock runs from that moment, so this
            is the rate accepted messages go out at

Throughput is messages over the time from the start (first request; the not_before when queued;
first submit for the baseline) to the last submit_sm the stand-in received; latency is each
message's acceptance (created_at, or the not_before when queued) to its submit_sm arriving.
Reports each ratio to the baseline and the targets (at least half the bare rate, and at least
500 messages/s). A report, not a test.

    uv run python bench/contact_throughput.py --messages 5000
    uv run python bench/contact_throughput.py --messages 5000 --rounds 3   # medians of three rounds
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

from careloop_common.natsserver import NatsServer, free_port
from careloop_common.testing import TEST_PRINCIPAL_SECRET, auth_headers
from contact_gateway.encoding import decode_short_message
from contact_gateway.standins.smsc import SmscStandIn

app = typer.Typer(add_completion=False)


def percentiles(values: list[float]) -> dict[str, float]:
    """Return p50/p90/p99/max of values (milliseconds)."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(ordered[-1], 1)}


BARE_CLIENT = """
import asyncio, sys, time, smpp34
async def main(port, count, window):
    client = smpp34.Client("127.0.0.1", port, "bench", "bench", bind_type="TRX", window_size=window)
    smsc = await client.connect()
    async def read():
        while not isinstance(await smsc.next(), smpp34.Disconnected):
            pass
    reader = asyncio.create_task(read())
    slots = asyncio.Semaphore(window)
    async def one(i):
        async with slots:
            body = f"bench {i}".encode()
            await smsc.submit_sm("85291234567", body, source_addr="careloop", registered_delivery=1)
    start = time.time()
    await asyncio.gather(*(one(i) for i in range(count)))
    print(start)
    await smsc.unbind()
    reader.cancel()
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
"""


async def baseline(smsc: SmscStandIn, count: int, window: int) -> dict[str, object]:
    """Run the bare client loop in a child process against the stand-in."""
    before = smsc.accepted_count
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE_CLIENT, str(smsc.port), str(count), str(window), stdout=subprocess.PIPE
    )
    out, _ = await process.communicate()
    start = float(out.decode().split()[-1])
    await smsc.wait_for_accepted(before + count, timeout_s=120)
    last = max(s.received_at for s in smsc.accepted[-count:])
    return {"messages": count, "seconds": round(last - start, 3), "per_s": round(count / (last - start), 1)}


async def gateway(
    smsc: SmscStandIn, count: int, window: int, workdir: Path, *, queued: bool = False
) -> dict[str, object]:
    """Run the contact gateway against the stand-in and time accepted → submit_sm."""
    nats = NatsServer(workdir / "nats", port=free_port())
    nats.start(15.0)
    port = free_port()
    env = {
        **os.environ,
        "CARELOOP_HOME": str(workdir),
        "CARELOOP_NATS_URL": nats.url,
        "CARELOOP_PRINCIPAL_SECRET": TEST_PRINCIPAL_SECRET,
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'contact.db'}",
        "CONTACT_SMSC_URLS": f"smpp://careloop:careloop@127.0.0.1:{smsc.port}?window={window}",
        "CONTACT_QUIET_HOURS": json.dumps({"service": "", "care": ""}),
        "CONTACT_LOG_LEVEL": os.environ.get("CONTACT_LOG_LEVEL", "WARNING"),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "contact_gateway.main:create_app",
        "--factory",
        "--port",
        str(port),
    ]
    log = (workdir / "contact-gateway.log").open("ab")
    server = subprocess.Popen(  # noqa: ASYNC220 - lives for the run
        [*command, "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            await _ready(client)
            accepted_at: dict[int, float] = {}
            before = smsc.accepted_count
            start = time.time()
            # Queued: due once intake is surely over (it runs at 1,500-2,500 a second here).
            due = datetime.fromtimestamp(start + 1.0 + count / 1000, UTC) if queued else None
            for first in range(0, count, 1000):
                items = [
                    {
                        "msisdn": "+85291234567",
                        "purpose": "service",
                        "text": f"bench {i}",
                        "idempotency_key": f"b{i}",
                        **({"not_before": due.isoformat()} if due else {}),
                    }
                    for i in range(first, min(first + 1000, count))
                ]
                response = await client.post(
                    "/contact/v1/request-batches",
                    json={"items": items},
                    headers=auth_headers("contact:write", subject="bench"),
                )
                response.raise_for_status()
                for offset, item in enumerate(response.json()["items"]):
                    accepted_at[first + offset] = datetime.fromisoformat(item["created_at"]).timestamp()
            intake_s = time.time() - start
            if due is not None:
                if time.time() >= due.timestamp():
                    raise RuntimeError("intake outlasted the lead given to queued messages")
                start = due.timestamp()
                accepted_at = dict.fromkeys(accepted_at, start)
            await smsc.wait_for_accepted(before + count, timeout_s=300)
        submits = smsc.accepted[-count:]
        last = max(s.received_at for s in submits)
        latency = [
            (s.received_at - accepted_at[int(decode_short_message(s.body, s.data_coding).split()[1])]) * 1000
            for s in submits
        ]
        return {
            "messages": count,
            "seconds": round(last - start, 3),
            "per_s": round(count / (last - start), 1),
            "intake_per_s": round(count / intake_s, 1),
            "latency_ms": percentiles(latency),
        }
    finally:
        server.terminate()
        server.wait(15)
        log.close()
        nats.stop()


async def _ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("contact gateway never became ready")


async def run(count: int, window: int, keep_dir: Path | None = None, rounds: int = 1) -> dict[str, object]:
    """Measure the baseline and the gateway against one stand-in, ``rounds`` times in turn.

    Each round's ratios are against that round's own baseline, measured just before, so a spell
    of other work on the machine weighs on both sides of a ratio. With more than one round the
    report gives, per scenario, the round of median rate and the median of the rounds' ratios, and
    every round under ``rounds``.
    """
    measured: list[dict[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory(prefix="careloop-bench-") as tmp:
        workdir = keep_dir or Path(tmp)
        async with SmscStandIn(port=free_port(), receipt_delay_s=0.2, keep=2 * count) as smsc:
            for number in range(1, rounds + 1):
                here = workdir / f"round-{number}" if rounds > 1 else workdir
                for scenario in ("gateway", "queued"):
                    (here / scenario).mkdir(parents=True, exist_ok=True)
                bare = await baseline(smsc, count, window)
                ours = await gateway(smsc, count, window, here / "gateway")
                queued = await gateway(smsc, count, window, here / "queued", queued=True)
                measured.append(_judged(bare, ours, queued))
    if rounds == 1:
        return dict(measured[0])
    report: dict[str, object] = {}
    for name in ("baseline", "gateway", "queued"):
        by_rate = sorted(measured, key=lambda r: float(r[name]["per_s"]))  # type: ignore[arg-type]
        median = dict(by_rate[len(by_rate) // 2][name])
        if name != "baseline":
            ratio = statistics.median(float(r[name]["ratio"]) for r in measured)  # type: ignore[arg-type]
            median |= {"ratio": round(ratio, 2), "meets_half_of_bare": ratio >= 0.5}
        report[name] = median
    report["rounds"] = measured
    return report


def _judged(
    bare: dict[str, object], ours: dict[str, object], queued: dict[str, object]
) -> dict[str, dict[str, object]]:
    """Return one round's results with each scenario's ratio to the round's baseline and the targets."""
    report: dict[str, dict[str, object]] = {"baseline": bare}
    for name, result in (("gateway", ours), ("queued", queued)):
        ratio = float(result["per_s"]) / float(bare["per_s"])  # type: ignore[arg-type]
        result["ratio"] = round(ratio, 2)
        result["meets_half_of_bare"] = ratio >= 0.5
        result["meets_500_per_s"] = float(result["per_s"]) >= 500  # type: ignore[arg-type]
        report[name] = result
    return report


@app.command()
def main(
    messages: Annotated[int, typer.Option(help="messages per scenario")] = 5000,
    window: Annotated[int, typer.Option(help="submit window, both scenarios")] = 50,
    keep_dir: Annotated[
        Path | None, typer.Option(help="run the gateway in this directory and keep its database and log")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the report here")] = None,
    rounds: Annotated[
        int, typer.Option(min=1, max=20, help="measure every scenario this many times, in turn")
    ] = 1,
) -> None:
    """Measure and print the report as JSON."""
    report = json.dumps(asyncio.run(run(messages, window, keep_dir, rounds)), indent=2)
    print(report)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(report + "\n")


if __name__ == "__main__":
    app()
