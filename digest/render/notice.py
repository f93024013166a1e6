"""The one-off mails of a subscriber's life, each from its own pair of templates: the double
opt-in (``confirm.mjml.j2`` / ``confirm.txt.j2``) and the optional welcome after it
(``welcome.mjml.j2`` / ``welcome.txt.j2``). Each is rendered once per ``digest serve``, with
markers where each person's values go.

Like the digest, the HTML goes Jinja2 → MJML → the compiler child → premailer; since every
such mail is the same apart from its link(s) and name, that happens once, and each mail is
made by substituting (escaped) values into the markers. The markers carry a random nonce made
at render time, so nothing a visitor types can contain one.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from digest.config import Config
from digest.render.compiler import shared_compiler
from digest.render.compose import clean
from digest.render.environment import environment, render_template

_INLINE_STYLE = re.compile(r'<mj-style\s+inline="inline"\s*>(.*?)</mj-style>', re.S | re.I)


@dataclass(frozen=True, slots=True)
class NoticeMail:
    """A rendered one-off mail: ``markers`` maps each per-person value (``name``, a link) to
    the placeholder that stands for it in ``html`` and ``text``."""

    subject: str
    html: str
    text: str
    markers: tuple[tuple[str, str], ...]

    def fill(self, name: str, **links: str) -> tuple[str, str]:
        """(html, text) for one person; ``name`` is whatever they typed, ``links`` the URLs
        the template names (``confirm_url=…``, ``unsubscribe_url=…``)."""
        values = {"name": clean(name, 200) or "reader", **links}
        out_html, out_text = self.html, self.text
        for slot, marker in self.markers:
            out_html = out_html.replace(marker, html.escape(values[slot]))
            out_text = out_text.replace(marker, values[slot])
        return out_html, out_text


def _duration(period: timedelta) -> str:
    hours = round(period.total_seconds() / 3600)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} hour{'s' if hours != 1 else ''}" if hours else "a few minutes"


def render_confirmation(config: Config, valid_for: timedelta) -> NoticeMail:
    """The confirmation mail (``RenderError`` if a template fails). Variables: those of
    ``_render`` plus ``confirm_url`` and ``valid_for`` ("48 hours")."""
    subject = f"Confirm your subscription to {clean(config.newsletter.title)}"
    return _render(config, "confirm", subject, ("confirm_url",), valid_for=_duration(valid_for))


def render_welcome(config: Config) -> NoticeMail:
    """The welcome mail (``RenderError`` if a template fails). Variables: those of ``_render``
    plus ``unsubscribe_url`` (the reader's own one-click link) and ``archive_url``."""
    news = config.newsletter
    subject = f"Welcome to {clean(news.title)}"
    return _render(config, "welcome", subject, ("unsubscribe_url",),
                   archive_url=f"{news.base_url}/issues")  # fmt: skip


def _render(
    config: Config, template: str, subject: str, links: tuple[str, ...], **extra: Any
) -> NoticeMail:
    """``<template>.mjml.j2`` and ``<template>.txt.j2`` with ``newsletter{title, base_url,
    postal_address}``, ``subject``, ``name`` and a marker for each of ``links``."""
    nonce = secrets.token_hex(8)
    markers = tuple((slot, f"dgstc{nonce}{slot.replace('_', '')}") for slot in ("name", *links))
    news = config.newsletter
    context = {
        "newsletter": {
            "title": clean(news.title),
            "base_url": news.base_url,
            "postal_address": clean(news.postal_address),
        },
        "subject": subject,
        **dict(markers),
        **extra,
    }
    env = environment(config)
    mjml = render_template(env, f"{template}.mjml.j2", context)
    inline_css = "\n".join(_INLINE_STYLE.findall(mjml))
    with shared_compiler() as compiler:
        compiled = compiler.compile(_INLINE_STYLE.sub("", mjml), inline_css)
    text = render_template(env, f"{template}.txt.j2", context).strip() + "\n"
    return NoticeMail(subject, compiled.html, text, markers)
