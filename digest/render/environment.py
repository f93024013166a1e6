"""The Jinja side of rendering: one sandboxed environment per set of template files, kept.

Templates are compiled once per process and reused by every later render — the clip guard's
trimming passes, ``digest preview``'s re-renders, the confirmation mail — instead of once per
``render_digest`` call (``environment``). Config strings (subject, preheader) are compiled once
each too (``line_template``).
"""

from __future__ import annotations

import functools
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from digest.config import Config
from digest.errors import RenderError


def _is_html_template(name: str | None) -> bool:
    # select_autoescape() only knows .html/.xml; MJML templates need escaping just as much.
    return name is None or not name.endswith((".txt.j2", ".txt"))


def _wrap(text: str, width: int = 72, indent: str = "", hanging: str | None = None) -> str:
    """``text`` filled to ``width``; every line starts with ``indent``, the lines after the
    first with ``hanging`` when given (a list item's continuation)."""
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )


def environment(config: Config) -> SandboxedEnvironment:
    """Templates from the publication's folder first, then the bundled ones.

    One environment per set of template files, kept for the process, so each template is
    compiled once and reused by every later render (Jinja checks a file's modification time
    on each use, so an edited template is compiled again; a file added or removed — say a
    template that now overrides a bundled one — makes a new environment).
    """
    dirs = tuple(config.template_dirs)
    seen = _SEEN.get(dirs)
    if seen is not None and _unchanged(seen[0]):  # no file added or removed since the walk
        return seen[1]
    folders = _folders(dirs)  # before the walk: a file added during it means a walk next time
    key = (dirs, tuple(template_files(config)))
    env = _ENVIRONMENTS.get(key)
    if env is None:
        if len(_ENVIRONMENTS) >= 8:
            _ENVIRONMENTS.clear()
        env = _ENVIRONMENTS[key] = _new_environment(config)
    _SEEN[dirs] = (folders, env)
    return env


_ENVIRONMENTS: dict[tuple[tuple[Path, ...], tuple[Path, ...]], SandboxedEnvironment] = {}
#: Per set of template folders: every folder in them with its modification time, and the
#: environment made for what they held. A file added, removed or renamed changes its folder's
#: time, so ``environment`` walks the folders again only then, not on every render (the walk
#: was 0.5 ms of a 15 ms render).
_SEEN: dict[tuple[Path, ...], tuple[tuple[tuple[Path, int], ...], SandboxedEnvironment]] = {}
#: A folder changed this recently is walked again anyway: a file system with coarse times
#: could show a second change in the same tick as the first.
_RACY_NS = 2_000_000_000


def _folders(dirs: tuple[Path, ...]) -> tuple[tuple[Path, int], ...]:
    """Every folder under ``dirs`` with its modification time (-1: a folder not there yet)."""
    found = []
    for top in dirs:
        found.append((top, _mtime(top)))
        found.extend((p, _mtime(p)) for p in (top.rglob("*") if top.is_dir() else ()) if p.is_dir())
    return tuple(found)


def _mtime(folder: Path) -> int:
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return -1


def _unchanged(folders: tuple[tuple[Path, int], ...]) -> bool:
    now = time.time_ns()
    return all(
        (mtime := _mtime(folder)) == seen and now - mtime > _RACY_NS for folder, seen in folders
    )


def _new_environment(config: Config) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(p) for p in config.template_dirs]),
        autoescape=_is_html_template,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    return env


#: For the subject and preheader strings from config: plain text, never HTML-escaped.
_TEXT_ENVIRONMENT = SandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined)


@functools.lru_cache(maxsize=32)
def line_template(source: str) -> jinja2.Template:
    """A config string compiled once (a render asks for the subject once per trimming pass)."""
    return _TEXT_ENVIRONMENT.from_string(source)


def render_template(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as e:
        where = ", ".join(str(p) for p in env.loader.searchpath) if env.loader else "?"  # type: ignore[attr-defined]
        raise RenderError(f"template {e.name} not found in {where}") from e
    except jinja2.TemplateSyntaxError as e:
        raise RenderError(
            f"{e.filename or name}:{e.lineno}: template syntax error: {e.message}"
        ) from e
    except jinja2.TemplateError as e:
        raise RenderError(f"{name}: {e}; check the template against the README's variables") from e
    except (UnicodeDecodeError, RecursionError, ArithmeticError, LookupError, TypeError,
            ValueError, AttributeError) as e:  # fmt: skip
        # An operator's own template can fail in plain Python: 1/0, "a" + 1, a file that is
        # not UTF-8, a macro that calls itself. Still a problem they can fix, not a bug.
        raise RenderError(
            f"{name}: {type(e).__name__}: {e}; fix the template (templates are read as UTF-8)"
        ) from e


def template_files(config: Config) -> list[Path]:
    """Every file a render may read, for the preview's change detection."""
    return sorted(
        p for d in config.template_dirs if d.is_dir() for p in d.rglob("*") if p.is_file()
    )
