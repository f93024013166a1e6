"""The wheel carries the code and the bundled templates, and digest runs from it alone.

The wheel is built from a copy of the checkout and installed with ``--no-deps`` into a fresh
venv in tmp_path; the dependencies come from the test venv's site-packages through a ``.pth``
file, so nothing is downloaded but the build backend, and digest itself (code and templates)
can only come from the wheel. Then ``digest build``, ``run`` and ``serve`` run in a folder
outside the checkout with its own config.yaml and reviews.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
TITLES = ("The Lantern Keeper", "Salt and Static")

CONFIG = """\
newsletter:
  title: The Wheel Reel
  from: "The Wheel Reel <news@reel.example.org>"
  base_url: https://reel.example.org
  timezone: Europe/Berlin
  postal_address: "1 Test Street, Testville"
sources:
  - {type: folder, path: reviews/, name: test reviews}
state: state/digest.sqlite3
outbox: outbox/
"""


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(CHECKOUT / "digest", src / "digest", symlinks=True, ignore=skip)
    shutil.copytree(CHECKOUT / "templates", src / "templates", ignore=skip)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, src, cwd=tmp_path)
    (wheel,) = dist.glob("digest-*.whl")
    return wheel


def _venv_with(wheel: Path, tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python)
    _run(*pip, "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run(python, "-c", code, cwd=tmp_path).strip())
    ours = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    # Appended after the venv's own site-packages: the wheel's digest comes first, and a
    # directory named in a .pth file has its own .pth files (the editable install's) ignored.
    (site / "test-deps.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    return venv


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "reviews").mkdir(parents=True)
    (site / "config.yaml").write_text(CONFIG, encoding="utf-8")
    for title in TITLES:  # no Date: line, so dated by mtime: this week, whenever the test runs
        slug = title.lower().replace(" ", "-")
        (site / "reviews" / f"{slug}.txt").write_text(
            f"Title: {title}\nLink: https://reel.example.org/reviews/{slug}/\n\n"
            f"Overview: {title} follows a night-shift worker through one long winter.\n\n"
            "Overall: Modest, careful and worth an evening.\n\nRating: B+\n",
            encoding="utf-8",
        )
    return site


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_when_up(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "digest serve exited"
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_wheel_carries_every_module_and_template(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    modules = {p.relative_to(CHECKOUT).as_posix() for p in (CHECKOUT / "digest").rglob("*.py")}
    templates = {
        "digest/templates/" + p.relative_to(CHECKOUT / "templates").as_posix()
        for p in (CHECKOUT / "templates").rglob("*")
        if p.is_file()
    }
    assert modules and templates
    assert modules | templates | {"digest/py.typed"} <= names


def test_digest_builds_runs_and_serves_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    venv = _venv_with(wheel, tmp_path)
    site = _site(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DIGEST_CONFIG")}
    where = _run(
        venv / "bin" / "python",
        "-c",
        "import digest, digest.config as c; print(digest.__file__); print(c.BUNDLED_TEMPLATES)",
        cwd=site,
        env=env,
    ).split()
    code, templates = Path(where[0]), Path(where[1])
    assert code.is_relative_to(venv) and templates.is_relative_to(venv)
    assert templates.is_dir() and not templates.is_symlink()
    assert (templates / "web" / "issues.html.j2").is_file()

    digest = venv / "bin" / "digest"
    _run(digest, "build", "--out", "out", cwd=site, env=env)
    html = (site / "out" / "digest.html").read_text(encoding="utf-8")
    assert all(t in html for t in TITLES)
    assert (site / "out" / "digest.txt").is_file() and (site / "out" / "digest.eml").is_file()

    _run(digest, "subscribers", "add", "reader@example.org", cwd=site, env=env)
    _run(digest, "run", cwd=site, env=env)
    (message,) = (site / "outbox" / "new").iterdir()
    assert "Salt and Static" in message.read_text(encoding="utf-8")

    port = _free_port()
    serve = [digest, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with subprocess.Popen(
        serve, cwd=site, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        try:
            page = _get_when_up(f"http://127.0.0.1:{port}/issues", proc)
            assert page.status_code == 200 and "The Wheel Reel" in page.text
            key = next(p for p in page.text.split('"') if p.startswith("/issues/20"))
            issue = httpx.get(f"http://127.0.0.1:{port}{key}", timeout=5)
            assert issue.status_code == 200 and "Salt and Static" in issue.text
        finally:
            proc.terminate()
            proc.wait(timeout=15)
