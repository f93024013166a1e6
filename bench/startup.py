"""Start-up benchmark: ``digest --help`` beside a bare ``python -c pass``, in turns.

    .venv/bin/python bench/startup.py [--repeat 20]

Each round runs ``python -c pass``, ``digest --help`` and ``digest subscribers list
--help`` once each, one after the other, so load on the shared machine falls on all three
alike; medians of ``--repeat`` rounds, wall time, plus each one's modules and peak memory
(``VmHWM``, read from ``/proc/self/status`` as the interpreter exits). Issue 18: ``--help``
took 265 ms, 10× a bare Python start, because the CLI imported the config schema (pydantic,
apscheduler, PyYAML) and rich before parsing its arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

#: Appended to each run: how many modules it imported and its peak memory, as it exits.
_REPORT = (
    "import atexit, json, sys\n"
    "def _r():\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "    sys.stderr.write('@@' + json.dumps([len(sys.modules), int(hwm) / 1024]) + '\\n')\n"
    "atexit.register(_r)\n"
)
RUNS = {
    "python -c pass": "pass",
    "digest --help": (
        "import sys; sys.argv = ['digest', '--help']; from digest.cli import main; main()"
    ),
    "digest subscribers list --help": (
        "import sys; sys.argv = ['digest', 'subscribers', 'list', '--help']; "
        "from digest.cli import main; main()"
    ),
}


def _once(code: str, path: str | None = None) -> tuple[float, int, float]:
    env = {**os.environ, "PYTHONPATH": path} if path else None
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _REPORT + code], capture_output=True, text=True, check=False,
        env=env, cwd=path,  # -c puts the working folder first on sys.path
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    modules, hwm = json.loads(out.stderr.rpartition("@@")[2])
    return elapsed, modules, hwm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--before", metavar="DIR", help="also time `digest --help` of another checkout "
        "(e.g. `git archive main | tar -x -C /tmp/before`), in the same rounds",
    )  # fmt: skip
    args = parser.parse_args()
    runs = {name: (code, None) for name, code in RUNS.items()}
    if args.before:
        runs["digest --help, before"] = (RUNS["digest --help"], args.before)
    times: dict[str, list[float]] = {name: [] for name in runs}
    info: dict[str, tuple[int, float]] = {}
    for _ in range(args.repeat):
        for name, (code, path) in runs.items():
            elapsed, modules, hwm = _once(code, path)
            times[name].append(elapsed)
            info[name] = (modules, hwm)
    base = statistics.median(times["python -c pass"])
    print(f"python {sys.version.split()[0]}, {args.repeat} rounds, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, runs in times.items():
        median = statistics.median(runs)
        modules, hwm = info[name]
        print(
            f"  {name:<32} {median * 1000:6.0f} ms  ({median / base:4.1f}× python -c pass; "
            f"{modules} modules, VmHWM {hwm:.0f} MB)"
        )


if __name__ == "__main__":
    main()
