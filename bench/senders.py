"""Several senders benchmark: one `digest send` vs two at once on one PostgreSQL state.

The same send on a SQLite file comes first, for reference (one sender: SQLite allows no more).

    .venv/bin/python bench/senders.py                         # 20,000 subscribers
    .venv/bin/python bench/senders.py --subscribers 50000 --connections 4

A throw-away PostgreSQL cluster (Debian's initdb / pg_ctl in a temporary folder, as the tests
start it) and Postfix's ``smtp-sink`` on loopback. For each row the same 20-review issue is
recorded for N subscribers in a fresh database, then K sender processes start together, each
``run_once`` as ``digest send --yes`` does: they share the issue, claiming rows with
``FOR UPDATE SKIP LOCKED``. Wall time is from the first start to the last exit; each sender
reports its own peak memory (``VmHWM`` from /proc/self/status) and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from send_setup import (  # noqa: E402
    NOW,
    _config_text,
    _prepare,
    _reviews,
    free_port,
    start_sink,
    vm_hwm_mb,
)

HEADER = (
    "| state | senders | wall s | msgs/s | sent by each | CPU s (all) | peak VmHWM MB |\n"
    "|-------|--------:|-------:|-------:|-------------:|------------:|--------------:|"
)


def child(config_path: Path) -> None:
    """One measured sender: join the recorded issue, report its figures as JSON."""
    from digest.config import load_config
    from digest.deliver import SmtpTransport
    from digest.pipeline.run import run_once

    config = load_config(config_path)
    assert config.smtp is not None
    result = run_once(config, now=NOW, trigger="bench",
                      transport=SmtpTransport(config.smtp, backoff_base=0.05))  # fmt: skip
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"sent": result.sent, "failed": result.failed, "vmhwm_mb": vm_hwm_mb(),
                      "cpu": usage.ru_utime + usage.ru_stime}))  # fmt: skip


def _senders(config_path: Path, count: int) -> tuple[float, list[dict[str, float]]]:
    started = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, __file__, "--child", str(config_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]  # fmt: skip
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - started
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            sys.exit(f"a sender failed:\n{err}")
    return wall, [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4, help="smtp.connections per sender")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    sink_tool = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink_tool).exists():
        sys.exit("smtp-sink not found: it comes with Postfix (apt-get install postfix)")
    from support.postgres import Postgres, binaries

    bindir = binaries()
    if bindir is None:
        sys.exit("PostgreSQL not found: apt-get install postgresql")

    from digest.config import load_config
    from digest.period import current_period
    from digest.render.compose import render_digest

    port = free_port()
    sink = start_sink(sink_tool, port)
    server = Postgres(bindir).start()
    try:
        with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
            base = Path(tmp)
            (base / "render" / "reviews").mkdir(parents=True)
            (base / "render" / "config.yaml").write_text(_config_text(port, 1))
            config = load_config(base / "render" / "config.yaml")
            rendered = render_digest(config, current_period(config, NOW), _reviews(), now=NOW)  # type: ignore[arg-type]
            print(f"{args.subscribers} subscribers, {args.connections} SMTP connections per "
                  f"sender, PostgreSQL {bindir.parts[-2]} and smtp-sink on loopback, "
                  f"{os.cpu_count()} CPUs\n")  # fmt: skip
            print(HEADER)
            runs = [("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2)]
            for n, (kind, count) in enumerate(runs):
                url = server.database() if kind == "PostgreSQL" else "state.sqlite3"
                path = _prepare(base / f"run{n}", args.subscribers, rendered, port,
                                args.connections, state=url)  # fmt: skip
                wall, figures = _senders(path, count)
                sent = [int(f["sent"]) for f in figures]
                assert sum(sent) == args.subscribers, sent
                cpu = sum(f["cpu"] for f in figures)
                peak = max(f["vmhwm_mb"] for f in figures)
                print(f"| {kind} | {count} | {wall:.1f} | {args.subscribers / wall:.0f} | "
                      f"{' + '.join(map(str, sent))} | {cpu:.1f} | {peak:.0f} |")  # fmt: skip
    finally:
        server.stop()
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
