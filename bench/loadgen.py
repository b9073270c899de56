"""HTTP load generators for the benchmarks: wrk when it is on PATH, else a built-in aiohttp one.

Both are closed-loop (each connection sends its next request when the previous answer arrives),
both run as a process of their own so their CPU can be measured apart from the servers', and both
are read back into the same ``LoadResult``. Run this file to use the built-in generator alone:

    python bench/loadgen.py --url http://127.0.0.1:8101/healthz --connections 32 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
from yarl import URL


@dataclass(frozen=True)
class LoadSpec:
    """One load to apply: a request repeated on ``connections`` keep-alive connections.

    With ``paths``, the requests cycle through them instead (path and query on ``url``'s host and
    port, one after another, shared by all connections), so one run can spread over many URLs.
    """

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    connections: int = 32
    duration_s: int = 10
    timeout_s: int = 10
    paths: tuple[str, ...] = ()

    def urls(self) -> list[str]:
        """Return every URL the load sends to: ``url`` alone, or each of ``paths`` on its origin."""
        if not self.paths:
            return [self.url]
        parts = urlsplit(self.url)
        return [f"{parts.scheme}://{parts.netloc}{path}" for path in self.paths]


@dataclass(frozen=True)
class LoadResult:
    """What a generator measured: completed requests, latency percentiles and errors."""

    generator: str
    requests: int
    elapsed_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Return completed requests per second."""
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """Return the result as JSON-ready data, throughput included."""
        return {**asdict(self), "rps": round(self.rps, 1)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LoadResult:
        """Read a result written by ``to_json``."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})  # type: ignore[arg-type]


class Generator(Protocol):
    """A load generator: the command line that applies a load, and how to read what it printed."""

    name: str

    def command(self, spec: LoadSpec, workdir: Path) -> list[str]:
        """Return the command that applies ``spec`` (helper files go in ``workdir``)."""
        ...

    def parse(self, output: str) -> LoadResult:
        """Read the generator's standard output."""
        ...


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the nearest-rank q-th percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# ---------------------------------------------------------------------------------------- wrk


_WRK_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _wrk_ms(text: str) -> float:
    """Convert a wrk duration such as ``804.00us``, ``6.19ms`` or ``1.10s`` to milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _WRK_UNITS_MS[match[2]]


def parse_wrk(output: str) -> LoadResult:
    """Read the report ``wrk --latency`` prints; socket errors and non-2xx/3xx answers are errors."""
    total = re.search(r"(\d+) requests in (\S+),", output)
    latency = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", output, re.MULTILINE)
    # wrk pads one-letter units with a space ("1.20s "), so a line may end in blanks.
    quantiles = {q: _wrk_ms(v) for q, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", output, re.MULTILINE)}
    if total is None or latency is None or len(quantiles) != 3:
        raise ValueError(f"unexpected wrk output (run it with --latency):\n{output}")
    kinds: dict[str, int] = {}
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if sockets is not None:
        for kind, count in zip(("connect", "read", "write", "timeout"), sockets.groups(), strict=True):
            if int(count):
                kinds[f"socket {kind}"] = int(count)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx is not None:
        kinds["non-2xx/3xx"] = int(non_2xx[1])
    return LoadResult(
        generator="wrk",
        requests=int(total[1]),
        elapsed_s=_wrk_ms(total[2]) / 1000,
        p50_ms=quantiles["50"],
        p90_ms=quantiles["90"],
        p99_ms=quantiles["99"],
        max_ms=_wrk_ms(latency[1]),
        errors=sum(kinds.values()),
        error_kinds=kinds,
    )


def wrk_script(spec: LoadSpec) -> str:
    """Return the Lua script that makes wrk send ``spec``'s method and body (and cycle its paths)."""
    lines = [f'wrk.method = "{spec.method}"']
    if spec.body is not None:
        # A long bracket of level 3: a JSON body cannot close it by accident.
        lines.append(f"wrk.body = [===[{spec.body}]===]")
    if spec.paths:
        lines.append("local paths = {")
        lines += [f"  [===[{path}]===]," for path in spec.paths]
        lines.append("}")
        lines.append("local i = 0")
        # wrk.format fills in the method, the -H headers and the body from the settings above.
        lines.append("request = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend")
    return "\n".join(lines) + "\n"


class Wrk:
    """wrk 4, one thread by default: a C generator costs the servers far less CPU than Python."""

    name = "wrk"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    def command(self, spec: LoadSpec, workdir: Path) -> list[str]:
        """Return the wrk command line; a method or body other than a plain GET goes in a Lua script."""
        argv = ["wrk", "-t", str(min(self.threads, spec.connections)), "-c", str(spec.connections)]
        argv += ["-d", f"{spec.duration_s}s", "--timeout", f"{spec.timeout_s}s", "--latency"]
        for name, value in spec.headers.items():
            argv += ["-H", f"{name}: {value}"]
        if spec.method != "GET" or spec.body is not None or spec.paths:
            script = workdir / "wrk-request.lua"
            script.write_text(wrk_script(spec))
            argv += ["-s", str(script)]
        return [*argv, spec.url]

    def parse(self, output: str) -> LoadResult:
        """Read wrk's report."""
        return parse_wrk(output)


# ------------------------------------------------------------------------------------ built-in


class Builtin:
    """The aiohttp generator in this file, run as a child process on one core (uvloop when present)."""

    name = "builtin"

    def command(self, spec: LoadSpec, workdir: Path) -> list[str]:
        """Return the command line that runs this file as a generator process."""
        argv = [sys.executable, str(Path(__file__).resolve()), "--url", spec.url, "--method", spec.method]
        argv += ["--connections", str(spec.connections), "--duration", str(spec.duration_s)]
        argv += ["--timeout", str(spec.timeout_s)]
        if spec.paths:
            paths = workdir / "loadgen-paths"
            paths.write_text("\n".join(spec.paths) + "\n")
            argv += ["--paths-file", str(paths)]
        for name, value in spec.headers.items():
            argv += ["--header", f"{name}: {value}"]
        if spec.body is not None:
            body = workdir / "loadgen-body"
            body.write_text(spec.body)
            argv += ["--body-file", str(body)]
        return argv

    def parse(self, output: str) -> LoadResult:
        """Read the JSON result the generator process printed."""
        return LoadResult.from_json(json.loads(output))


def pick_generator(choice: str = "auto", wrk_threads: int = 1) -> Generator:
    """Return wrk when chosen or (for ``auto``) when it is on PATH, else the built-in generator."""
    if choice == "wrk" or (choice == "auto" and shutil.which("wrk")):
        if not shutil.which("wrk"):
            raise FileNotFoundError("wrk is not on PATH (apt-get install wrk), or use --generator builtin")
        return Wrk(wrk_threads)
    return Builtin()


async def _connection(
    session: aiohttp.ClientSession,
    spec: LoadSpec,
    urls: Iterator[URL],
    deadline: float,
    latencies: list[float],
    errors: Counter[str],
) -> None:
    """Send requests one after another until the deadline, recording each answer's latency."""
    body = spec.body.encode() if spec.body is not None else None
    while (began := time.perf_counter()) < deadline:
        try:
            async with session.request(spec.method, next(urls), headers=spec.headers, data=body) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[type(exc).__name__] += 1
            continue
        latencies.append(time.perf_counter() - began)
        if not 200 <= status < 400:
            errors[f"HTTP {status}"] += 1


async def run_builtin(spec: LoadSpec) -> LoadResult:
    """Apply ``spec`` from this process: ``connections`` keep-alive connections for ``duration_s``."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    # One cycle shared by every connection: together they walk the URLs in order.
    urls = itertools.cycle([URL(u, encoded=True) for u in spec.urls()])
    connector = aiohttp.TCPConnector(limit=spec.connections, keepalive_timeout=60)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=spec.timeout_s),
        skip_auto_headers=("User-Agent",),
    ) as session:
        started = time.perf_counter()
        deadline = started + spec.duration_s
        await asyncio.gather(
            *(_connection(session, spec, urls, deadline, latencies, errors) for _ in range(spec.connections))
        )
        elapsed = time.perf_counter() - started
    latencies.sort()
    ms = [v * 1000 for v in (percentile(latencies, q) for q in (50, 90, 99))]
    return LoadResult(
        generator="builtin",
        requests=len(latencies),
        elapsed_s=elapsed,
        p50_ms=ms[0],
        p90_ms=ms[1],
        p99_ms=ms[2],
        max_ms=latencies[-1] * 1000 if latencies else 0.0,
        errors=sum(errors.values()),
        error_kinds=dict(errors),
    )


def _parse_args(argv: list[str]) -> LoadSpec:
    """Read the generator's command line into a LoadSpec."""
    parser = argparse.ArgumentParser(description="Closed-loop HTTP load; prints a JSON LoadResult.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--body-file", type=Path)
    parser.add_argument("--paths-file", type=Path, help="cycle through these paths on --url's origin")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds")
    parser.add_argument("--timeout", type=int, default=10, help="seconds per request")
    args = parser.parse_args(argv)
    headers = dict(h.split(":", 1) for h in args.header)
    return LoadSpec(
        url=args.url,
        method=args.method.upper(),
        headers={k.strip(): v.strip() for k, v in headers.items()},
        body=args.body_file.read_text() if args.body_file else None,
        connections=args.connections,
        duration_s=args.duration,
        timeout_s=args.timeout,
        paths=tuple(args.paths_file.read_text().split()) if args.paths_file else (),
    )


def main(argv: list[str] | None = None) -> None:
    """Run the built-in generator once and print its result as JSON."""
    spec = _parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(_run(run_builtin(spec)).to_json()))


def _run(main: Coroutine[object, object, LoadResult]) -> LoadResult:
    """Run a coroutine on uvloop when installed (a faster generator), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


if __name__ == "__main__":
    main()
