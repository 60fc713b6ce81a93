#!/usr/bin/env python
"""How the whole pipeline scales with the interaction log: wall time per component, peak memory, and seconds per
million interactions, on synthetic logs in the generic layout.

For each size a log is generated (users and items in MovieLens 25M's proportions: 25M interactions, about 160k users
and 60k items; item popularity Zipf-like, each user's events in time order), then `avrec run --no-content --epochs 1`
runs on it in a subprocess whose process tree (Beam workers included) is sampled for resident memory. Seconds per
million interactions should not grow with the size, and the peak should stay well under the machine's memory.

    python scripts/bench_scale.py                          # 1M, 5M and 25M interactions (hours on 2 cores)
    python scripts/bench_scale.py --sizes 1000000 --keep   # one size, keep the data and output under --work
    python scripts/bench_scale.py --sizes 10000000 --until CatalogTrainer   # the data preparation alone
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

USERS_PER_INTERACTION = 160_000 / 25_000_000
ITEMS_PER_INTERACTION = 60_000 / 25_000_000
GENRES = ("Action", "Comedy", "Drama", "Horror", "Documentary", "Music", "Animation", "Thriller")
COMPONENT_START = re.compile(r"^\[\s*\d+/\d+\] (\S+)", re.MULTILINE)  # the CLI's progress line as a component starts
# "... done in" on the start line, or on a line of its own after the component's progress lines
COMPONENT_DONE = re.compile(r"^\[\s*\d+/\d+\] (\S+)(?: \.\.\.)? done in ([\d.]+)s", re.MULTILINE)
CHUNK = 1_000_000  # interactions generated and written at a time: the generator's memory is bounded too


def write_log(root: Path, interactions: int, seed: int = 0) -> None:
    """interactions.csv (user_id, item_id, weight, timestamp) and items.csv (item_id, title, genres)."""
    rng = np.random.default_rng(seed)
    users = max(10, int(interactions * USERS_PER_INTERACTION))
    items = max(10, int(interactions * ITEMS_PER_INTERACTION))
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "items.csv", "w") as handle:
        handle.write("item_id,title,genres\n")
        for item in range(items):
            handle.write(f"i{item},Item {item},{GENRES[item % len(GENRES)]}|{GENRES[(item * 7) % len(GENRES)]}\n")
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    popularity /= popularity.sum()
    start = 1_500_000_000
    with open(root / "interactions.csv", "w") as handle:
        handle.write("user_id,item_id,weight,timestamp\n")
        for offset in range(0, interactions, CHUNK):
            n = min(CHUNK, interactions - offset)
            user = rng.integers(0, users, n)
            item = rng.choice(items, n, p=popularity)
            timestamp = start + np.sort(rng.integers(0, 3 * 365 * 86400, n)) + offset
            weight = rng.integers(1, 6, n)
            handle.write("".join(f"u{u},i{i},{w},{t}\n" for u, i, w, t in zip(user, item, weight, timestamp)))


class PeakMemory:
    """Samples the resident memory of a process and all its children until stopped; keeps the peak, overall and per
    pipeline component (the one whose start line, "[ n/14] Name ...", the run's log shows last)."""

    def __init__(self, pid: int, log: Path, interval: float = 0.5):
        self.process, self.interval, self.peak = psutil.Process(pid), interval, 0
        self.by_component: dict[str, int] = {}
        self._log, self._unfinished, self._component = open(log), "", None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree if p.is_running())
                self.peak = max(self.peak, rss)
                text = self._unfinished + self._log.read()  # a start line ends only when its component is done
                self._unfinished = text[text.rfind("\n") + 1:]
                for started in COMPONENT_START.findall(text):
                    self._component = started
                if self._component:
                    self.by_component[self._component] = max(self.by_component.get(self._component, 0), rss)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    @property
    def component(self) -> str | None:
        """The component running now, as the log last showed it."""
        return self._component

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self._log.close()
        return self.peak


def run_pipeline(data: Path, output: Path, log: Path, until: str | None) -> tuple[float, int, dict, dict]:
    """(wall seconds, peak RSS, seconds per component, peak RSS per component); with `until`, the run is stopped as
    that component starts."""
    started = time.monotonic()
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "avrec.cli", "run", "--data", str(data), "--output",
                                    str(output), "--no-content", "--epochs", "1", "--format", "generic"],
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        memory = PeakMemory(process.pid, log)
        while process.poll() is None:
            if until is not None and memory.component == until:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
                break
            time.sleep(1)
    peak = memory.stop()
    seconds = time.monotonic() - started
    if until is None and process.returncode != 0:
        raise SystemExit(f"the pipeline failed ({process.returncode}); see {log}")
    components = {name: float(value) for name, value in COMPONENT_DONE.findall(log.read_text())}
    return seconds, peak, components, {name: rss for name, rss in memory.by_component.items() if name != until}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,25000000", help="interactions (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=None, help="where data and outputs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data and outputs")
    parser.add_argument("--until", metavar="COMPONENT", help="stop each run as this component starts (e.g. "
                        "CatalogTrainer, whose one epoch takes hours at 25M): the table covers the steps before it")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="avrec-scale-"))
    rows = []
    for size in (int(value) for value in args.sizes.split(",")):
        data, output = work / f"log-{size}", work / f"out-{size}"
        generated = time.monotonic()
        write_log(data, size)
        print(f"{size:,} interactions: generated in {time.monotonic() - generated:.0f} s; running ...", flush=True)
        seconds, peak, components, memory = run_pipeline(data, output, work / f"run-{size}.log", args.until)
        rows.append((size, seconds, peak, components, memory))
        print(f"  {seconds:.0f} s, peak RSS {peak / 2**30:.1f} GiB", flush=True)
        if not args.keep:
            shutil.rmtree(data)
            shutil.rmtree(output)
    names = sorted({name for *_, components, _ in rows for name in components},
                   key=lambda name: -max(components.get(name, 0) for *_, components, _ in rows))
    print(f"\n| interactions | wall s | s per M | peak RSS GiB | {' | '.join(names)} |")
    print("|---:|---:|---:|---:|" + "---:|" * len(names))
    for size, seconds, peak, components, _ in rows:
        cells = " | ".join(f"{components.get(name, 0):.0f}" for name in names)
        print(f"| {size:,} | {seconds:.0f} | {seconds / size * 1e6:.0f} | {peak / 2**30:.1f} | {cells} |")
    print("\nPeak RSS (GiB) while each component ran, Beam workers included:\n")
    print(f"| interactions | {' | '.join(names)} |\n|---:|" + "---:|" * len(names))
    for size, *_, memory in rows:
        print(f"| {size:,} | " + " | ".join(f"{memory.get(name, 0) / 2**30:.1f}" for name in names) + " |")
    if args.until:
        print(f"\nEach run was stopped as {args.until} started: wall time and s per M cover the steps before it.")
    print(f"\nmachine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")


if __name__ == "__main__":
    main()
