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

A run can be split over several calls with the same --work: a finished log is reused, the pipeline takes the
components that finished from its cache, and the table adds up the calls (each component timed in the call that ran
it, in work/measured-SIZE.json). 25M interactions take longer than a working session on 2 cores:

    python scripts/bench_scale.py --sizes 25000000 --work W --keep --until CatalogTrainer   # then, later:
    python scripts/bench_scale.py --sizes 25000000 --work W --keep
"""
from __future__ import annotations

import argparse
import json
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
COMPONENT_DONE = re.compile(r"^\[\s*\d+/\d+\] (\S+)(?: \.\.\.)? done in ([\d.]+)s( \(cached\))?", re.MULTILINE)
CHUNK = 1_000_000  # interactions generated and written at a time: the generator's memory is bounded too


def write_log(final: Path, interactions: int, seed: int = 0) -> None:
    """interactions.csv (user_id, item_id, weight, timestamp) and items.csv (item_id, title, genres), written beside
    `final` and moved there once complete, so that a log found there is whole."""
    rng = np.random.default_rng(seed)
    users = max(10, int(interactions * USERS_PER_INTERACTION))
    items = max(10, int(interactions * ITEMS_PER_INTERACTION))
    root = final.with_name(final.name + ".partial")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
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
    root.rename(final)


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


def run_pipeline(data: Path, output: Path, log: Path, until: str | None) -> dict:
    """One call's wall seconds and peak RSS, and the seconds and peak RSS of each component it ran (not those taken
    from the cache); with `until`, the run is stopped as that component starts."""
    started = time.monotonic()
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "avrec.cli", "run", "--data", str(data), "--output",
                                    str(output), "--no-content", "--epochs", "1", "--format", "generic"],
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        memory, stopped = PeakMemory(process.pid, log), False
        while process.poll() is None:
            if until is not None and memory.component == until:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
                stopped = True
                break
            time.sleep(1)
    peak = memory.stop()
    ran = {name: float(value) for name, value, cached in COMPONENT_DONE.findall(log.read_text()) if not cached}
    return {"seconds": time.monotonic() - started, "peak": peak, "until": until if stopped else None,
            "failed": None if stopped or process.returncode == 0 else process.returncode,
            "components": {name: {"seconds": value, "peak": memory.by_component.get(name, 0)}
                           for name, value in ran.items()}}


def measure(work: Path, size: int, until: str | None) -> dict:
    """Runs the pipeline once more on the size's log (generated unless a whole one is there) and adds the call to
    work/measured-SIZE.json: {"calls": [...], "components": {name: {"seconds", "peak"}}}."""
    data, output, record = work / f"log-{size}", work / f"out-{size}", work / f"measured-{size}.json"
    measured = json.loads(record.read_text()) if record.exists() else {"calls": [], "components": {}}
    if data.exists():
        print(f"{size:,} interactions: reusing {data}; running ...", flush=True)
    else:
        generated = time.monotonic()
        write_log(data, size)
        print(f"{size:,} interactions: generated in {time.monotonic() - generated:.0f} s; running ...", flush=True)
    log = work / f"run-{size}-{len(list(work.glob(f'run-{size}-*.log'))) + 1}.log"
    call = run_pipeline(data, output, log, until)
    measured["components"].update(call.pop("components"))
    measured["calls"].append(call)
    record.write_text(json.dumps(measured, indent=1))  # a failed call too: what it finished is cached from now on
    if call["failed"] is not None:
        raise SystemExit(f"the pipeline failed ({call['failed']}); see {log}")
    print(f"  {call['seconds']:.0f} s, peak RSS {call['peak'] / 2**30:.1f} GiB", flush=True)
    return measured


def print_tables(rows: list[tuple[int, dict]]) -> None:
    """Wall time is the sum of a size's calls; a component's time and peak come from the call that ran it."""
    names = sorted({name for _, measured in rows for name in measured["components"]},
                   key=lambda name: -max(m["components"].get(name, {}).get("seconds", 0) for _, m in rows))
    print(f"\n| interactions | calls | wall s | s per M | peak RSS GiB | {' | '.join(names)} |")
    print("|---:|---:|---:|---:|---:|" + "---:|" * len(names))
    for size, measured in rows:
        seconds = sum(call["seconds"] for call in measured["calls"])
        peak = max(call["peak"] for call in measured["calls"])
        cells = " | ".join(f"{measured['components'].get(name, {}).get('seconds', 0):.0f}" for name in names)
        print(f"| {size:,} | {len(measured['calls'])} | {seconds:.0f} | {seconds / size * 1e6:.0f} | "
              f"{peak / 2**30:.1f} | {cells} |")
    print("\nPeak RSS (GiB) while each component ran, Beam workers included:\n")
    print(f"| interactions | {' | '.join(names)} |\n|---:|" + "---:|" * len(names))
    for size, measured in rows:
        print(f"| {size:,} | " + " | ".join(f"{measured['components'].get(name, {}).get('peak', 0) / 2**30:.1f}"
                                          for name in names) + " |")
    stopped = {call["until"] for _, measured in rows for call in measured["calls"][-1:] if call["until"]}
    if stopped:
        print(f"\nThe last call stopped as {', '.join(sorted(stopped))} started: the table covers the steps before.")
    print(f"\nmachine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,25000000", help="interactions (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=None, help="where data and outputs go (default: a temp dir); "
                        "with --keep, a later call with the same directory resumes")
    parser.add_argument("--keep", action="store_true", help="keep the data and outputs")
    parser.add_argument("--until", metavar="COMPONENT", help="stop each run as this component starts (e.g. "
                        "CatalogTrainer): the table covers the steps before it, a later call the rest")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="avrec-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in (int(value) for value in args.sizes.split(",")):
        rows.append((size, measure(work, size, args.until)))
        if not args.keep:
            for leftover in (work / f"log-{size}", work / f"out-{size}"):
                shutil.rmtree(leftover, ignore_errors=True)
            (work / f"measured-{size}.json").unlink(missing_ok=True)
    print_tables(rows)


if __name__ == "__main__":
    main()
