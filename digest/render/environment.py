"""The Jinja side of rendering: one sandboxed environment per set of template files, kept.

Templates are compiled once per process and reused by every later render — the clip guard's
trimming passes, ``digest preview``'s re-renders, the confirmation mail — instead of once per
``render_digest`` call (``environment``). Config strings (subject, preheader) are compiled once
each too (``line_template``).
"""

from __future__ import annotations

import functools
import textwrap
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
    key = (tuple(config.template_dirs), tuple(template_files(config)))
    env = _ENVIRONMENTS.get(key)
    if env is None:
        if len(_ENVIRONMENTS) >= 8:
            _ENVIRONMENTS.clear()
        env = _ENVIRONMENTS[key] = _new_environment(config)
    return env


_ENVIRONMENTS: dict[tuple[tuple[Path, ...], tuple[Path, ...]], SandboxedEnvironment] = {}


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
