"""Render benchmark: 10, 50 and 200 reviews, seconds per stage (Jinja, MJML, premailer, text).

    .venv/bin/python bench/render.py [--repeat 3]

Stages are summed over every pass of one render (a list too big for Gmail is rendered again,
trimmed). "worker" is the cost of starting the child process that isolates the native MJML
compiler, measured separately; "total" is the wall time of ``render_digest``. Medians of
``--repeat`` runs. Figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.config import parse_config
from digest.models import Facts, Grade, Image, Period, Review
from digest.render.compiler import Compiler
from digest.render.compose import render_digest

CONFIG = """
newsletter:
  title: Bench Weekly
  from: "Bench Weekly <bench@example.org>"
  base_url: https://bench.example.org
  timezone: Europe/Berlin
  postal_address: "Bench Weekly, 1 Example Street, Berlin"
sources:
  - {type: folder, path: reviews/}
selection: {days: 7, max_reviews: 500}
"""
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
GRADES = ("A+", "A", "B+", "B", "C", "D", "F")


def reviews(count: int) -> tuple[Review, ...]:
    return tuple(
        Review(
            title=f"Benchmark Feature {i}",
            published=NOW - timedelta(minutes=i),
            source="bench",
            key=str(i),
            link=f"https://bench.example.org/reviews/{i}/",
            overview=(
                f"Feature {i} follows a night-shift projectionist through one long weekend, "
                "and the film is at its best when it lets the booth stay quiet."
            ),
            facts=Facts(raw=f"Studio {i % 9}; 2026; 12A; {90 + i % 40} min."),
            grade=Grade.parse(GRADES[i % len(GRADES)]),
            image=Image(
                url=f"https://images.bench.example.org/{i}.jpg",
                alt=f"A still from feature {i}",
                credit=f"Studio {i % 9}",
                width=1200,
                height=675,
            ),
        )
        for i in range(count)
    )


def worker_start_seconds() -> float:
    started = time.perf_counter()
    with Compiler() as compiler:
        compiler.compile("<mjml><mj-body></mj-body></mjml>")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(CONFIG, encoding="utf-8")
        (Path(folder) / "reviews").mkdir()
        config = parse_config(CONFIG, path)
        period = Period("2026-W48", NOW - timedelta(days=7), NOW)
        worker = statistics.median(worker_start_seconds() for _ in range(args.repeat))
        print(f"python {sys.version.split()[0]}; worker start + empty compile: {worker:.3f}s")
        header = f"{'reviews':>7} {'shown':>5} {'KB':>5} {'jinja':>6} {'mjml':>6} {'premailer':>9}"
        print(header + f" {'text':>6} {'total':>6}")
        for count in (10, 50, 200):
            runs = []
            for _ in range(args.repeat):
                timings: dict[str, float] = {}
                started = time.perf_counter()
                rendered = render_digest(config, period, reviews(count), now=NOW, timings=timings)
                timings["total"] = time.perf_counter() - started
                runs.append(timings)
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            size = len(rendered.html.encode()) / 1024
            print(
                f"{count:>7} {len(rendered.reviews):>5} {size:>5.0f} {median['jinja']:>6.3f} "
                f"{median['mjml']:>6.3f} {median['premailer']:>9.3f} {median['text']:>6.3f} "
                f"{median['total']:>6.3f}"
            )


if __name__ == "__main__":
    main()
