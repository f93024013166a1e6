"""The subscriber-lifecycle sections of ``config.yaml``: ``signup:`` (the web sign-up with
double opt-in) and ``inbound:`` (the mailbox of bounces, complaints and unsubscribes)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from digest.config.base import Model, is_loopback, parse_duration
from digest.errors import ConfigError


class Signup(Model):
    """The web sign-up form (``/subscribe``) with double opt-in; present = switched on."""

    #: How long a confirmation link works.
    confirm_within: str = "48h"
    #: Confirmation mails one address can be sent per day (more sign-ups are answered the same
    #: way, but send nothing).
    per_address: int = Field(default=3, ge=1, le=100)
    #: Sign-ups one IP address can make per hour.
    per_ip: int = Field(default=10, ge=1, le=10_000)
    #: Confirmation mails sent per hour in all (a flood from many addresses): over it, sign-ups
    #: are answered the same way and recorded, but no mail is sent.
    per_hour: int = Field(default=100, ge=1, le=100_000)
    #: Mail a welcome (``welcome.mjml.j2`` / ``welcome.txt.j2``) to an address the moment it
    #: confirms. Off by default: the confirmation page already says "you are subscribed" and
    #: the next issue is the first mail a reader expects; switch it on to say hello in your
    #: own words (what comes, and when).
    welcome: bool = False

    @field_validator("confirm_within")
    @classmethod
    def _within(cls, v: str) -> str:
        _positive(v)
        return v

    @property
    def confirm_period(self) -> timedelta:
        return parse_duration(self.confirm_within)


class Inbound(Model):
    """Inbound mail: the IMAP mailbox that receives bounces, complaints and ``mailto:``
    unsubscribes (``digest inbound --imap``), and how soft bounces count. ``host``,
    ``username`` and ``password_env`` are needed only for ``--imap``: a section holding just
    the soft-bounce settings serves ``digest inbound`` fed by an MTA on standard input."""

    host: str | None = None
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str | None = None
    #: The NAME of the environment variable holding the IMAP password.
    password_env: str | None = None
    folder: str = "INBOX"
    #: Understood messages are moved here; the rest stay in ``folder`` for a person.
    processed_folder: str = "digest-processed"
    #: Temporary failures (4.x.x, "delayed") before an address counts as bounced.
    soft_bounce_limit: int = Field(default=3, ge=1, le=100)
    #: Only soft bounces this recent count toward ``soft_bounce_limit``: a mailbox that was
    #: full once in March and once in October is not dead.
    soft_bounce_window: str = "30d"
    timeout: float = Field(default=30, gt=0)
    ca_file: Path | None = None

    @field_validator("soft_bounce_window")
    @classmethod
    def _window(cls, v: str) -> str:
        _positive(v)
        return v

    @property
    def soft_bounce_period(self) -> timedelta:
        return parse_duration(self.soft_bounce_window)

    @model_validator(mode="after")
    def _security(self) -> Inbound:
        if self.security == "none" and self.host is not None and not is_loopback(self.host):
            raise ValueError(
                "security: none sends the IMAP password unencrypted; it is allowed only for a "
                "loopback host such as 127.0.0.1 — use ssl or starttls"
            )
        return self

    def account(self, config_path: str) -> tuple[str, str, str]:
        """(host, username, password) for ``--imap``; a ``ConfigError`` naming what is missing."""
        if self.host is None:
            raise _needed_for_imap(config_path, "host")
        if self.username is None:
            raise _needed_for_imap(config_path, "username")
        if self.password_env is None:
            raise _needed_for_imap(config_path, "password_env")
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                config_path,
                f"environment variable {self.password_env} is not set; export it with the "
                "IMAP password (secrets never go in config.yaml)",
                key="inbound.password_env",
            )
        return self.host, self.username, value


def _needed_for_imap(config_path: str, key: str) -> ConfigError:
    return ConfigError(
        config_path,
        "not set; digest inbound --imap needs inbound.host, inbound.username and "
        "inbound.password_env (the name of the variable holding the password)",
        key=f"inbound.{key}",
    )


def _positive(value: str) -> timedelta:
    period = parse_duration(value)
    if period <= timedelta(0):
        raise ValueError(f"expected a duration longer than nothing, such as 30d, got {value!r}")
    return period
