"""The load generators: wrk's report read right, the built-in generator counting answers and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from loadgen import Builtin, LoadResult, LoadSpec, Wrk, parse_wrk, percentile, run_builtin

from careloop_common.natsserver import free_port

WRK_OK = """\
Running 3s test @ http://127.0.0.1:18999/ping
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.45ms    2.22ms  27.38ms   78.77%
    Req/Sec     4.97k   539.84     6.26k    66.67%
  Latency Distribution
     50%    6.19ms
     75%    7.29ms
     90%    8.87ms
     99%   13.67ms
  14863 requests in 3.00s, 1.93MB read
Requests/sec:   4946.62
Transfer/sec:    656.97KB
"""

# wrk pads a one-letter unit with a space: "1.20s " ends its line with a blank, "3.13ms" does not.
WRK_ERRORS = (
    "Running 1s test @ http://127.0.0.1:18999/fail\n"
    "  1 threads and 4 connections\n"
    "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
    "    Latency     0.99ms  612.23us    1.50s    81.03%\n"
    "    Req/Sec     4.16k   821.47     5.43k    72.73%\n"
    "  Latency Distribution\n"
    "     50%  804.00us\n"
    "     75%    1.21ms\n"
    "     90%    1.86ms\n"
    "     99%    1.20s \n"
    "  4544 requests in 1.10s, 789.88KB read\n"
    "  Socket errors: connect 0, read 3, write 0, timeout 2\n"
    "  Non-2xx or 3xx responses: 4544\n"
    "Requests/sec:   4130.14\n"
    "Transfer/sec:    717.93KB\n"
)


def test_wrk_report_is_read() -> None:
    result = parse_wrk(WRK_OK)
    assert (result.requests, result.elapsed_s, result.errors) == (14863, 3.0, 0)
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms) == (6.19, 8.87, 13.67, 27.38)


def test_wrk_errors_and_units_are_read() -> None:
    result = parse_wrk(WRK_ERRORS)
    assert result.p50_ms == pytest.approx(0.804)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.max_ms == pytest.approx(1500.0)
    assert result.elapsed_s == pytest.approx(1.1)
    assert result.error_kinds == {"socket read": 3, "socket timeout": 2, "non-2xx/3xx": 4544}
    assert result.errors == 4549


def test_wrk_output_without_a_report_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")
    without_percentiles = WRK_OK.replace("     99%   13.67ms\n", "")
    with pytest.raises(ValueError, match="unexpected wrk output"):
        parse_wrk(without_percentiles)


def test_wrk_sends_a_post_through_a_lua_script(tmp_path: Path) -> None:
    spec = LoadSpec(
        url="http://127.0.0.1:1/x", method="POST", headers={"A": "b"}, body='{"k": "v"}', connections=8
    )
    argv = Wrk(threads=2).command(spec, tmp_path)
    assert argv[:5] == ["wrk", "-t", "2", "-c", "8"]
    assert argv[argv.index("-H") + 1] == "A: b"
    script = Path(argv[argv.index("-s") + 1]).read_text()
    assert 'wrk.method = "POST"' in script
    assert '{"k": "v"}' in script
    assert argv[-1] == spec.url


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    assert percentile([], 99) == 0.0
    assert percentile([7.0], 50) == 7.0


def test_result_survives_json() -> None:
    result = parse_wrk(WRK_ERRORS)
    data = result.to_json()
    assert data["rps"] == round(result.rps, 1)
    assert LoadResult.from_json(data) == result


def test_builtin_command_carries_the_spec(tmp_path: Path) -> None:
    spec = LoadSpec(url="http://127.0.0.1:1/x", method="POST", headers={"A": "b"}, body="{}", duration_s=3)
    argv = Builtin().command(spec, tmp_path)
    assert argv[argv.index("--header") + 1] == "A: b"
    assert argv[argv.index("--duration") + 1] == "3"
    assert Path(argv[argv.index("--body-file") + 1]).read_text() == "{}"


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A tiny local HTTP server: /ok answers 200, /fail answers 500, /echo returns the body."""

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def fail(_: web.Request) -> web.Response:
        return web.Response(status=500)

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), status=201)

    app = web.Application()
    app.add_routes([web.get("/ok", ok), web.get("/fail", fail), web.post("/echo", echo)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_builtin_counts_answers(server: str) -> None:
    result = await run_builtin(LoadSpec(url=f"{server}/ok", connections=4, duration_s=1))
    assert result.requests > 0
    assert result.errors == 0
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms


async def test_builtin_counts_error_answers(server: str) -> None:
    result = await run_builtin(LoadSpec(url=f"{server}/fail", connections=2, duration_s=1))
    assert result.requests > 0
    assert result.error_kinds == {"HTTP 500": result.requests}


async def test_builtin_sends_the_body(server: str) -> None:
    spec = LoadSpec(url=f"{server}/echo", method="POST", body='{"a": 1}', connections=2, duration_s=1)
    result = await run_builtin(spec)
    assert result.requests > 0
    assert result.errors == 0


async def test_builtin_counts_refused_connections() -> None:
    result = await run_builtin(LoadSpec(url=f"http://127.0.0.1:{free_port()}/", connections=1, duration_s=1))
    assert result.requests == 0
    assert result.errors > 0


def test_wrk_cycles_through_paths_with_a_lua_script(tmp_path: Path) -> None:
    spec = LoadSpec(url="http://127.0.0.1:1/a?x=1", headers={"A": "b"}, paths=("/a?x=1", "/b?y=2&z=3"))
    argv = Wrk().command(spec, tmp_path)
    script = Path(argv[argv.index("-s") + 1]).read_text()
    assert "[===[/a?x=1]===]," in script
    assert "[===[/b?y=2&z=3]===]," in script
    assert "request = function()" in script
    assert "wrk.format(nil, paths[i])" in script
    assert spec.urls() == ["http://127.0.0.1:1/a?x=1", "http://127.0.0.1:1/b?y=2&z=3"]


def test_builtin_command_carries_the_paths(tmp_path: Path) -> None:
    spec = LoadSpec(url="http://127.0.0.1:1/a", paths=("/a", "/b?c=1"))
    argv = Builtin().command(spec, tmp_path)
    assert Path(argv[argv.index("--paths-file") + 1]).read_text().split() == ["/a", "/b?c=1"]


async def test_builtin_cycles_through_the_paths(server: str) -> None:
    # Every other request goes to /fail: the cycle is shared by the connections.
    spec = LoadSpec(url=f"{server}/ok", paths=("/ok", "/fail"), connections=1, duration_s=1)
    result = await run_builtin(spec)
    assert result.requests > 1
    assert abs(result.error_kinds["HTTP 500"] * 2 - result.requests) <= 1
