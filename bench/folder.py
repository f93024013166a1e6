"""Folder-source benchmark: collect and select 100, 1,000 and 5,000 review files.

    .venv/bin/python bench/folder.py [--repeat 3]

The files are the bundled samples copied under new names (so every one parses in full:
header, overview, facts, sections, verdict, grade). "collect" reads, decodes and parses every
file; "select" windows, folds, sorts and caps. Medians of ``--repeat`` runs, in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from digest.collect.collection import collect
from digest.config import load_config
from digest.period import current_period
from digest.select import select_reviews

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "reviews"
CONFIG = """\
newsletter: {title: Bench, from: "Bench <b@example.org>", base_url: https://example.org}
sources: [{type: folder, path: reviews}]
selection: {days: 7, max_reviews: 20, order: grade}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    samples = [p for p in sorted(SAMPLES.iterdir()) if p.suffix in (".txt", ".md")]
    print("| files | collect s | select s | reviews/s |")
    print("|------:|----------:|---------:|----------:|")
    for count in (100, 1_000, 5_000):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "reviews"
            folder.mkdir()
            for i in range(count):
                sample = samples[i % len(samples)]
                (folder / f"{sample.stem}-{i}{sample.suffix}").write_bytes(sample.read_bytes())
            (Path(tmp) / "config.yaml").write_text(CONFIG, encoding="utf-8")
            config = load_config(Path(tmp) / "config.yaml")
            collect_times, select_times = [], []
            for _ in range(args.repeat):
                now = datetime.now(UTC)
                start = time.perf_counter()
                collection = collect(config, now=now)
                middle = time.perf_counter()
                select_reviews(config, collection, current_period(config, now), now=now)
                collect_times.append(middle - start)
                select_times.append(time.perf_counter() - middle)
            if collection.problems:
                sys.exit(f"unexpected problems: {collection.problems[:3]}")
            c, s = statistics.median(collect_times), statistics.median(select_times)
            print(f"| {count:5,} | {c:9.3f} | {s:8.3f} | {count / c:9,.0f} |")


if __name__ == "__main__":
    main()
