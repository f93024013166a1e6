"""The double opt-in mail (``confirm.mjml.j2`` / ``confirm.txt.j2``), rendered once per
``digest serve`` with markers where each sign-up's link and name go.

Like the digest, the HTML goes Jinja2 → MJML → the compiler child → premailer; since every
confirmation mail is the same apart from its link and name, that happens once, and each mail
is made by substituting (escaped) values into the markers.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from digest.config import Config
from digest.render.compiler import shared_compiler
from digest.render.compose import clean
from digest.render.environment import environment, render_template

_INLINE_STYLE = re.compile(r'<mj-style\s+inline="inline"\s*>(.*?)</mj-style>', re.S | re.I)


@dataclass(frozen=True, slots=True)
class ConfirmationMail:
    subject: str
    html: str
    text: str
    link_marker: str
    name_marker: str

    def fill(self, link: str, name: str) -> tuple[str, str]:
        """(html, text) for one sign-up; ``name`` is whatever the visitor typed."""
        name = clean(name, 200) or "reader"
        out_html = self.html.replace(self.link_marker, html.escape(link))
        out_html = out_html.replace(self.name_marker, html.escape(name))
        out_text = self.text.replace(self.link_marker, link).replace(self.name_marker, name)
        return out_html, out_text


def _duration(period: timedelta) -> str:
    hours = round(period.total_seconds() / 3600)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} hour{'s' if hours != 1 else ''}" if hours else "a few minutes"


def render_confirmation(config: Config, valid_for: timedelta) -> ConfirmationMail:
    """Render the confirmation mail for ``config`` (``RenderError`` if a template fails)."""
    nonce = secrets.token_hex(8)
    link, name = f"dgstc{nonce}link", f"dgstc{nonce}name"
    news = config.newsletter
    subject = f"Confirm your subscription to {clean(news.title)}"
    context = {
        "newsletter": {
            "title": clean(news.title),
            "base_url": news.base_url,
            "postal_address": clean(news.postal_address),
        },
        "subject": subject,
        "confirm_url": link,
        "name": name,
        "valid_for": _duration(valid_for),
    }
    env = environment(config)
    mjml = render_template(env, "confirm.mjml.j2", context)
    inline_css = "\n".join(_INLINE_STYLE.findall(mjml))
    with shared_compiler() as compiler:
        compiled = compiler.compile(_INLINE_STYLE.sub("", mjml), inline_css)
    text = render_template(env, "confirm.txt.j2", context).strip() + "\n"
    return ConfirmationMail(subject, compiled.html, text, link, name)
