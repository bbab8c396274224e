"""Report benchmark: a finished 62-item inspection with 60 full-size photos, rendered as xlsx, pdf
and png the way the bot does it (model read, photos read, rendering in the worker process).

    .venv/bin/python -m bench.bench_reports              # 60 photos, median of 3 runs
    .venv/bin/python -m bench.bench_reports --photos 20 --runs 5

Photos are generated JPEGs of 1600×1200 with sensor-like noise (about 0.5 MB each, like a
phone photo sent through a chat). For each format it prints, as Markdown: the model read, the
end-to-end time through ReportService (median of --runs), the rendering time inside the worker,
the file size and the worker's peak memory (a fresh worker process per rendering).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bot.core.report_request import ReportFormat
from bot.reports.model import ReportModel, load_report
from bot.reports.service import ReportService, load_photos
from tests.reports.data import build


def _measured(fmt: str, model: ReportModel, photos: Mapping[str, bytes]) -> tuple[float, int, int]:
    """Runs in a fresh worker: (seconds, bytes, peak RSS in KiB) of one rendering."""
    from bot.reports.render import render

    started = time.perf_counter()
    data = render(ReportFormat(fmt), model, photos)
    seconds = time.perf_counter() - started
    return seconds, len(data), _peak_kib()


def _peak_kib() -> int:
    """VmHWM: the process's own peak RSS (ru_maxrss would include the parent's, as a spawned
    worker is forked before it executes Python afresh)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _machine() -> str:
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()
    total = memory[1].split()[1] if len(memory) > 1 else "?"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs (`nproc`), {total} RAM (`free -h`), "
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"load average at the end {load}"
    )


async def run(photos: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        built = await build(Path(tmp), photos=photos, photo_size=(1600, 1200), noise=25)
        generated = time.perf_counter() - started
        try:
            reads = []
            for _ in range(runs):
                started = time.perf_counter()
                model = await load_report(built.db, built.inspection_id)
                reads.append(time.perf_counter() - started)
            sizes = [len(await built.db.files.get(h)) for h in built.photo_hashes]
            started = time.perf_counter()
            loaded = await load_photos(built.db.files, model)
            photo_read = time.perf_counter() - started
            spawn = multiprocessing.get_context("spawn")
            print(f"## Reports ({datetime.now(UTC):%Y-%m-%d})\n")
            command = f".venv/bin/python -m bench.bench_reports --photos {photos} --runs {runs}"
            print(f"Command: `{command}`  ")
            print(
                f"\nData: 62 items (4 不适用, 12 tasks), {photos} photos of 1600×1200, "
                f"mean {statistics.mean(sizes) / 1024:.0f} KB (generated in {generated:.1f} s); "
                f"model read {1000 * statistics.median(reads):.0f} ms (one read transaction), "
                f"photos read {1000 * photo_read:.0f} ms.\n"
            )
            print("| format | end to end (median) | rendering in worker | file size | peak RSS |")
            print("|---|---|---|---|---|")
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                service = ReportService(built.db, executor=pool)
                await service.render_bytes(model, ReportFormat.PNG)  # start the worker
                for fmt in ReportFormat:
                    total = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        await service.render_bytes(model, fmt)
                        total.append(time.perf_counter() - started)
                    inner = []
                    for _ in range(runs):
                        with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as one:
                            given = {} if fmt is ReportFormat.PNG else loaded
                            future = one.submit(_measured, fmt.value, model, given)
                            inner.append(await asyncio.wrap_future(future))
                    seconds = statistics.median(i[0] for i in inner)
                    peak = max(i[2] for i in inner) / 1024
                    print(
                        f"| {fmt.value} | {statistics.median(total):.2f} s | {seconds:.2f} s "
                        f"| {inner[0][1] / 1_048_576:.2f} MB | {peak:.0f} MB |"
                    )
            print(f"\nMachine: {_machine()}.")
        finally:
            await built.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.photos, args.runs))


if __name__ == "__main__":
    sys.exit(main())
