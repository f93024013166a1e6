"""Render benchmark: 10, 50 and 200 reviews, seconds per stage (Jinja, MJML, premailer, text);
then 20 reviews beside the reference MJML (JavaScript) compiling the same MJML.

    .venv/bin/python bench/render.py [--repeat 20] [--no-js] [--mjml-version 4]

Stages are summed over every pass of one render (a list too big for Gmail is rendered again,
trimmed). "worker" is the cost of starting the child process that isolates the native MJML
compiler, measured separately; "total" is the wall time of ``render_digest``. Medians of
``--repeat`` runs; the worker is started by the first render and reused by the rest, as in
``digest preview`` or a build (the first, cold render is shown apart).

``--js`` (the default when ``node`` and ``npm`` are found): the MJML documents one 20-review
render hands its compiler (every pass) are compiled by the JavaScript ``mjml`` package in one
Node process, timed there after a warm-up; the ratio is digest's whole render (Jinja, MJML,
premailer, text, the pipe to the worker) over that (issue 18's target: ≤ 3×). The package is
installed with ``npm install mjml@4`` into a temporary folder at run time (``--mjml-version``
picks another; or set ``BENCH_MJML_DIR`` to a folder holding ``node_modules/mjml``); nothing
is left behind. mjml 4 is the reference the issue measured against (mjml-python follows it);
mjml 5 compiles the same documents several times slower here, so it would flatter digest. Peak
memory is ``VmHWM`` from ``/proc/<pid>/status``, for this process and the worker.

``BENCH_CODE=DIR`` runs it all with the digest package of another checkout (``git archive main
| tar -x -C DIR``): the figures of the code before a change, on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, os.environ.get("BENCH_CODE") or str(Path(__file__).resolve().parents[1]))

from digest.config import parse_config
from digest.models import Facts, Grade, Image, Period, Review
from digest.render import compiler as render_compiler
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


JS_COMPILE = r"""
const fs = require("fs");
const mjml2html = require("mjml");
const docs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const repeat = Number(process.argv[3]);
const options = {fonts: {}, keepComments: true, validationLevel: "soft"};
// mjml 5 returns a promise, mjml 4 the result itself: await works for both.
const once = async () => {
  for (const d of docs) {
    const out = await mjml2html(d, options);
    if (!out.html) throw new Error("no html");
  }
};
(async () => {
  const coldStart = process.hrtime.bigint();
  await once();
  const cold = Number(process.hrtime.bigint() - coldStart) / 1e9;
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    const t = process.hrtime.bigint();
    await once();
    runs.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  runs.sort((a, b) => a - b);
  const hwm = fs.readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s+(\d+)/)[1];
  const version = require("mjml/package.json").version;
  console.log(JSON.stringify({cold, median: runs[Math.floor(runs.length / 2)],
                              hwm_mb: Number(hwm) / 1024, version}));
})();
"""


def vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _mjml_js(folder: Path, version: str) -> Path | None:
    """A folder with ``node_modules/mjml``: ``BENCH_MJML_DIR``, else ``npm install`` here."""
    given = os.environ.get("BENCH_MJML_DIR")
    if given:
        return Path(given)
    if not (shutil.which("node") and shutil.which("npm")):
        print("JS MJML skipped: node and npm not found (Node 18+ needed for `npm install mjml`)")
        return None
    print(f"installing the reference MJML: npm install mjml@{version} (temporary folder) …")
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", f"mjml@{version}"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"JS MJML skipped: npm install mjml failed:\n{done.stderr[-800:]}")
        return None
    return folder


def _documents(config: object, period: Period, count: int) -> list[tuple[str, str]]:
    """The MJML documents one render of ``count`` reviews hands its compiler, every pass."""
    seen: list[tuple[str, str]] = []
    hook = "send" if hasattr(Compiler, "send") else "compile"  # "compile" before issue 18
    real = getattr(Compiler, hook)

    def recording(self: Compiler, mjml: str, inline_css: str = "") -> object:
        seen.append((mjml, inline_css))
        return real(self, mjml, inline_css)

    setattr(Compiler, hook, recording)
    try:
        render_digest(config, period, reviews(count), now=NOW)  # type: ignore[arg-type]
    finally:
        setattr(Compiler, hook, real)
    return seen


def premailer_pass(mjml: str, inline_css: str, repeat: int) -> None:
    """premailer on one document with and without ``align_floating_images``, side by side."""
    compile_document = render_compiler.compile_document
    if "align_floating_images" not in compile_document.__code__.co_varnames:
        return  # before issue 18 the pass always ran
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for flag in (False, True):
            out = compile_document(mjml, inline_css, align_floating_images=flag)
            times[flag].append(out["premailer_seconds"])
    without, with_pass = (statistics.median(times[f]) for f in (False, True))
    print(
        f"  premailer on the last pass's document, in this process: {without * 1000:.0f} ms "
        f"without align_floating_images, {with_pass * 1000:.0f} ms with it (the pass: "
        f"{1 - without / with_pass:.0%} of premailer's time)"
    )


def against_js(config: object, period: Period, repeat: int, version: str, count: int = 20) -> None:
    """digest's whole render of ``count`` reviews beside JS MJML compiling the same MJML."""
    documents = _documents(config, period, count)
    docs = [mjml for mjml, _ in documents]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        rendered = render_digest(config, period, reviews(count), now=NOW)  # type: ignore[arg-type]
        runs.append(time.perf_counter() - started)
    ours = statistics.median(runs)
    shared = getattr(render_compiler, "shared_compiler", None)  # None before issue 18
    worker_mb = float("nan")
    if shared is not None:
        with shared() as worker:
            worker_mb = vm_hwm_mb(worker.pid)
    print(
        f"\n{count} reviews → {len(rendered.reviews)} cards, {len(docs)} passes "
        f"({', '.join(f'{len(d) / 1024:.0f}' for d in docs)} KB of MJML); load average "
        f"{os.getloadavg()[0]:.1f}\n  digest render_digest, warm worker: {ours * 1000:.0f} ms "
        f"(VmHWM: this process {vm_hwm_mb():.0f} MB, worker {worker_mb:.0f} MB)"
    )
    premailer_pass(*documents[-1], repeat)
    with tempfile.TemporaryDirectory(prefix="digest-mjml-js-") as tmp:
        folder = _mjml_js(Path(tmp), version)
        if folder is None:
            return
        (Path(tmp) / "docs.json").write_text(json.dumps(docs), encoding="utf-8")
        (folder / "compile.js").write_text(JS_COMPILE, encoding="utf-8")
        started = time.perf_counter()
        out = subprocess.run(
            ["node", str(folder / "compile.js"), str(Path(tmp) / "docs.json"), str(repeat)],
            cwd=folder, capture_output=True, text=True, check=True,
        )  # fmt: skip
        process = time.perf_counter() - started
    js = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = ours / js["median"]
    print(
        f"  JS mjml {js['version']}, same {len(docs)} documents, warm: "
        f"{js['median'] * 1000:.0f} ms (first "
        f"compile {js['cold'] * 1000:.0f} ms; node process with {repeat + 1} compiles "
        f"{process:.2f} s; VmHWM {js['hwm_mb']:.0f} MB)\n"
        f"  {'PASS' if ratio <= 3 else 'MISS'} digest / JS MJML = {ratio:.1f}× (target ≤ 3×)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--js", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--mjml-version", default="4", help="the JS mjml to install (npm)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(CONFIG, encoding="utf-8")
        (Path(folder) / "reviews").mkdir()
        config = parse_config(CONFIG, path)
        period = Period("2026-W48", NOW - timedelta(days=7), NOW)
        worker = statistics.median(worker_start_seconds() for _ in range(args.repeat))
        print(f"python {sys.version.split()[0]}; worker start + empty compile: {worker:.3f}s")
        started = time.perf_counter()
        render_digest(config, period, reviews(20), now=NOW)
        print(f"first render in this process (20 reviews, starts the worker): "
              f"{time.perf_counter() - started:.3f}s")  # fmt: skip
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
        if args.js:
            against_js(config, period, args.repeat, args.mjml_version)


if __name__ == "__main__":
    main()
