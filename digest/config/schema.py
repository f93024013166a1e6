"""The shape of ``config.yaml``: one frozen pydantic model per section, checked when built.

Like Pelican's ``read_settings``: defaults ← file ← overrides, relative paths resolved against
the folder of the config file, and the raw YAML never leaves this module. Every error is a
``ConfigError`` naming the file, the key, the line (where YAML gives one) and the fix.

Secrets never live in the file: ``smtp.password_env`` *names* an environment variable, and
``DIGEST_SECRET`` is read from the environment only.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from digest.config.base import (
    Model,
    check_http_url,
    check_mailbox,
    is_loopback,
    parse_duration,
)
from digest.config.cadence import Cadence
from digest.config.filters import SourceFilter, check_timezone, slugify
from digest.config.lifecycle import Inbound, Signup
from digest.config.target import PostgresState, parse_state
from digest.errors import ConfigError

__all__ = ["Inbound", "Signup", "SourceFilter", "parse_duration", "slugify"]

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "DIGEST_CONFIG"
#: Where the bundled templates live (overridable per publication with ``templates:``): inside
#: the package, so a wheel carries them. In a checkout ``digest/templates`` is a symlink to the
#: top-level ``templates/`` folder, which the wheel build copies in (see pyproject.toml).
BUNDLED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class Newsletter(Model):
    title: str = Field(min_length=1)
    from_: str = Field(alias="from")
    reply_to: str | None = None
    #: The envelope sender (VERP) of issue mail: ``bounces@example.org`` sends each copy from
    #: ``bounces+<issue>=<token>@example.org``, so a bounce names its subscriber and issue by
    #: the address it comes back to. Unset: the envelope sender is the From address.
    return_path: str | None = None
    base_url: str
    timezone: str = "UTC"
    #: The sender's postal line shown in the footer (CAN-SPAM asks for one).
    postal_address: str = ""
    #: Jinja2 templates for the subject line and the inbox preheader.
    subject: str = (
        "{% if pick %}{{ pick.title }}{% if pick.grade %} ({{ pick.grade }}){% endif %}"
        "{% if reviews|length > 1 %} and {{ reviews|length - 1 }} more"
        " review{{ 's' if reviews|length > 2 }} this {{ period_noun }}{% endif %}"
        "{% else %}{{ newsletter.title }}{% endif %}"
    )
    preheader: str = (
        "{{ reviews|length }} review{{ 's' if reviews|length != 1 }} from {{ newsletter.title }}"
    )
    #: Send a short "quiet week" note when a period has no new reviews (default: send nothing).
    quiet_week: bool = False
    #: Offer ``mailto:`` unsubscribing in List-Unsubscribe. Off until inbound mail is processed:
    #: an unsubscribe request nobody reads is worse than none (https one-click always works).
    unsubscribe_mailto: bool = False

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        return check_http_url(v).rstrip("/")

    @field_validator("from_", "reply_to")
    @classmethod
    def _mailbox(cls, v: str | None) -> str | None:
        return None if v is None else check_mailbox(v)

    @field_validator("return_path")
    @classmethod
    def _return_path(cls, v: str | None) -> str | None:
        if v is None:
            return None
        local, at, domain = v.strip().rpartition("@")
        if not at or not local or not domain or not v.isascii() or "+" in local or " " in v:
            raise ValueError(
                f"{v!r} is not a bare address like bounces@example.org (no name, no '+': "
                "digest adds +<issue>=<token> to it)"
            )
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sender_address(self) -> str:
        return parseaddr(self.from_)[1]


class _SourceOptions(Model):
    """What every source takes: a name, a timezone for zone-less dates, filters."""

    name: str = ""
    #: Zone-less dates from this source are read in this zone (default: newsletter.timezone).
    timezone: str | None = None
    include: SourceFilter | None = None
    exclude: SourceFilter | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)


class FolderSettings(_SourceOptions):
    type: Literal["folder"]
    path: Path

    @property
    def label(self) -> str:
        return self.name or f"folder:{self.path.name}"


class _NetworkSource(_SourceOptions):
    url: str
    #: Allow loopback / private / link-local targets (intranets, tests). Off by default.
    allow_private: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)

    @property
    def label(self) -> str:
        return self.name or self.url


class FeedSettings(_NetworkSource):
    type: Literal["feed"]


class WordPressSettings(_NetworkSource):
    type: Literal["wordpress"]


SourceConfig = Annotated[
    FolderSettings | FeedSettings | WordPressSettings, Field(discriminator="type")
]


class Selection(Model):
    days: int = Field(default=7, ge=1, le=366)
    max_reviews: int = Field(default=20, ge=1, le=500)
    order: Literal["newest", "grade"] = "newest"


class Http(Model):
    """Limits for every network fetch (feeds, WordPress)."""

    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    total_timeout: float = Field(default=30.0, gt=0)
    max_bytes: int = Field(default=10_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    user_agent: str = "digest/0.1 (+https://github.com/digest)"


class Smtp(Model):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    connections: int = Field(default=4, ge=1, le=64)
    #: Messages per second across all connections (0 = unlimited).
    rate: float = Field(default=50, ge=0)
    timeout: float = Field(default=30, gt=0)
    #: Attempts for a 4xx answer before the recipient is left "deferred" for the next run.
    retries: int = Field(default=3, ge=0, le=20)
    #: A PEM file of extra CA certificates to trust (private CAs, tests).
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _security(self) -> Smtp:
        if self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                "security: none sends mail (and any password) unencrypted; it is allowed only "
                "for a loopback host such as 127.0.0.1 — use starttls or ssl"
            )
        if self.username and not self.password_env:
            raise ValueError(
                "username is set but password_env is not: name the environment "
                "variable that holds the password, e.g. password_env: SMTP_PASSWORD"
            )
        return self

    def password(self, config_path: str) -> str | None:
        """The password from the environment; a clear error when the variable is unset."""
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                config_path,
                f"environment variable {self.password_env} is not set; export it with the "
                "SMTP password (secrets never go in config.yaml)",
                key="smtp.password_env",
            )
        return value


class Dkim(Model):
    domain: str
    selector: str
    key_file: Path
    #: An optional second, Ed25519 signature (RFC 8463), beside the RSA one every receiver checks.
    ed25519_selector: str | None = None
    ed25519_key_file: Path | None = None

    @model_validator(mode="after")
    def _ed25519_pair(self) -> Dkim:
        if (self.ed25519_selector is None) != (self.ed25519_key_file is None):
            raise ValueError(
                "ed25519_selector and ed25519_key_file go together: set both or neither"
            )
        return self


class Schedule(Model):
    """When issues go out (``cron``, ``cadence``), and whether an editor approves them first.

    ``cadence`` sets the issue key and the selection window (``config.cadence``). With
    ``approval: required`` the issue is prepared at ``prepare`` (a cron), a ``[PROOF]`` copy
    goes to ``editors``, and at send time an unapproved issue is held (``on_unapproved:
    hold``, the default) or sent all the same (``send``); a held issue goes out once approved,
    while still within ``grace`` of its time.
    """

    cron: str = "0 8 * * mon"
    cadence: Cadence = "weekly"
    grace: str = "6h"
    #: The second(s) within each matching minute, cron-style (``"*/5"``); for tests and demos.
    second: str = "0"
    approval: Literal["none", "required"] = "none"
    prepare: str | None = None
    editors: tuple[str, ...] = ()
    on_unapproved: Literal["hold", "send"] = "hold"

    @field_validator("editors")
    @classmethod
    def _editors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for address in v:
            if "@" not in check_mailbox(address) or "<" in address:
                raise ValueError(f"{address!r} is not a bare address like editor@example.org")
        return v

    @field_validator("prepare")
    @classmethod
    def _prepare(cls, v: str | None) -> str | None:
        return None if v is None else cls._cron(v)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        try:
            trigger = CronTrigger.from_crontab(v, timezone="UTC")
        except ValueError as e:
            raise ValueError(
                f'invalid cron expression {v!r} ({e}); use five fields, e.g. "0 8 * * mon"'
            ) from None
        # Five fields repeat every year at most, so "no firing after 2000" means never.
        if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise ValueError(f"cron expression {v!r} never fires (e.g. 30 February)")
        # APScheduler 3.x counts weekdays from Monday = 0, crontab from Sunday = 0: a number
        # would silently fire on the wrong day, so only names are accepted.
        if re.search(r"(?<![/\d])\d", v.split()[4]):
            raise ValueError(
                f"invalid cron expression {v!r}: write the day of the week as a name "
                '(mon, tue, … sun, or a range like mon-fri), e.g. "0 8 * * mon"'
            )
        return v

    @field_validator("second")
    @classmethod
    def _second(cls, v: str) -> str:
        try:
            CronTrigger(second=v, timezone="UTC")
        except ValueError as e:
            raise ValueError(f'invalid seconds field {v!r} ({e}); e.g. "0" or "*/5"') from None
        return v

    @field_validator("grace")
    @classmethod
    def _grace(cls, v: str) -> str:
        parse_duration(v)
        return v

    @property
    def grace_period(self) -> timedelta:
        return parse_duration(self.grace)


class Serve(Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    #: Also serve the live preview of the current period at /preview.
    preview: bool = False


class Config(Model):
    """The whole validated configuration. ``path`` is the file it was read from."""

    path: Path
    newsletter: Newsletter
    sources: tuple[SourceConfig, ...] = Field(min_length=1)
    selection: Selection = Selection()
    http: Http = Http()
    #: A SQLite file, or a PostgreSQL database (``config.target``).
    state: Path | PostgresState = Path("state/digest.sqlite3")
    #: The NAME of the environment variable holding the PostgreSQL password.
    state_password_env: str | None = None
    templates: Path | None = None
    smtp: Smtp | None = None
    outbox: Path = Path("outbox")
    dkim: Dkim | None = None
    schedule: Schedule = Schedule()
    serve: Serve = Serve()
    signup: Signup | None = None
    inbound: Inbound | None = None
    #: The editor's notes, one Markdown file per issue (``notes/2026-W49.md``).
    notes: Path = Path("notes")

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, v: object) -> object:
        return parse_state(v)

    @model_validator(mode="after")
    def _state_password(self) -> Config:
        if self.state_password_env and not isinstance(self.state, PostgresState):
            raise ValueError(
                "state_password_env is only for a postgresql:// state; remove it or set "
                "state: postgresql://user@host:5432/dbname"
            )
        return self

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def template_dirs(self) -> tuple[Path, ...]:
        """The publication's own templates first, then the bundled ones."""
        own = (self.templates,) if self.templates else ()
        return (*own, BUNDLED_TEMPLATES)

    def source_timezone(self, entry: FolderSettings | FeedSettings | WordPressSettings) -> str:
        """The zone a source's zone-less dates are read in: its own, else the newsletter's."""
        return entry.timezone or self.newsletter.timezone

    def source_key(self, entry: FolderSettings | FeedSettings | WordPressSettings) -> str:
        """``sources[N]`` for messages that name where in config.yaml to fix something."""
        try:
            return f"sources[{self.sources.index(entry)}]"
        except ValueError:
            return "sources"
