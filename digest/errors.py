"""Every error digest raises on purpose, each carrying the fix in its message.

The CLI turns any ``DigestError`` into one line on stderr and exit code 1; anything else
is a bug and keeps its traceback.

    DigestError
    ├── ConfigError          config.yaml is unreadable or invalid (names file, key, line, fix)
    ├── PeriodError          --since / --until give no period (it would end before it starts)
    ├── SourceError          one source could not be collected (reported, then skipped)
    │   ├── FetchError       an HTTP fetch failed or was refused (timeout, size, private address)
    │   └── NothingCollected a source failed and no other had anything new (never a quiet week)
    ├── ReviewError          a review file or entry has no usable fields
    ├── RenderError          a template failed or the MJML compiler crashed
    ├── StateError           the state database can't be opened, written or locked (names the file)
    │   ├── RunnerBusy       another digest holds the runner lock (``digest run`` / ``schedule``)
    │   └── SendBusy         another digest is sending this issue right now (the send lock)
    ├── SubscriberError      a subscriber address or import file is invalid
    ├── InboundError         the inbound IMAP mailbox can't be read (names the server)
    ├── UnhandledMessage     the message on ``digest inbound``'s stdin is empty or not understood
    ├── RecipientError       one recipient's value can't go into a header (that copy fails)
    ├── DeliveryError        the mail server can't be used at all (connect, TLS, auth)
    │   ├── ConnectFailed    no connection after every retry (refused, 421): maybe temporary
    │   └── SenderRefused    the server refused the session's sender (5xx at MAIL FROM, 530)
    ├── ServeError           ``digest serve`` / ``digest preview`` can't listen (port, host)
    └── NotConfirmed         a command that asks first has no terminal to ask on, and no --yes

Not user errors, but raised on purpose inside one stage and caught there:

    AddressRefused (OSError) the fetcher refused to connect to a non-public address
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(DigestError):
    """config.yaml is missing, malformed or invalid.

    The message always starts with the file name, then the key path and line where known.
    """

    def __init__(self, path: str, message: str, *, key: str = "", line: int | None = None):
        self.path = path
        self.key = key
        self.line = line
        where = path
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class PeriodError(DigestError):
    """``--since`` / ``--until`` do not make a period: the start is not before the end."""


class SourceError(DigestError):
    """One source failed as a whole; the other sources still run."""

    def __init__(self, source: str, message: str):
        self.source = source
        super().__init__(f"source {source}: {message}")


class FetchError(SourceError):
    """An HTTP fetch failed, timed out, was too large, or was refused by policy."""

    def __init__(self, url: str, message: str):
        self.url = url
        DigestError.__init__(self, f"{url}: {message}")
        self.source = url


class NothingCollected(SourceError):
    """A source failed and nothing new could be collected: the issue is empty for a reason the
    operator must fix, so the command exits non-zero instead of reporting a quiet week."""

    def __init__(self, message: str):
        self.source = ""
        DigestError.__init__(self, message)


class ReviewError(DigestError):
    """A single review could not be read; it is skipped and reported."""


class RenderError(DigestError):
    """The digest could not be rendered (template error, MJML compiler failure)."""


class StateError(DigestError):
    """The state database can't be used; nothing is sent when this is raised."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}")


class SubscriberError(DigestError):
    """A subscriber address or import file is invalid."""


class InboundError(DigestError):
    """The inbound mailbox can't be used (connect, login, a command refused, a dropped line)."""

    def __init__(self, where: str, message: str):
        self.where = where
        super().__init__(f"IMAP {where}: {message}")


class UnhandledMessage(DigestError):
    """The one message handed to ``digest inbound`` on standard input was empty, not understood
    or about no subscriber: nothing was recorded, and the exit code tells the MTA to keep it."""


class RunnerBusy(StateError):
    """Another digest process holds the runner lock."""

    def __init__(self, path: str, pid: int | None):
        self.path = path
        self.pid = pid
        holder = f"pid {pid}" if pid else "pid unknown"
        DigestError.__init__(
            self,
            f"another digest is running ({holder}, lock file {path}); wait for it to finish, "
            "or stop it first (a crashed process never leaves the lock held)",
        )


class SendBusy(StateError):
    """Another digest process is sending from this state right now (the send lock is held)."""


class RecipientError(DigestError):
    """A recipient value that can't be put in a header (recorded as a failed delivery)."""


class DeliveryError(DigestError):
    """The mail server can't be used at all (refused connection, TLS or login failure)."""


class ConnectFailed(DeliveryError):
    """No connection after every retry (refused, 421): a temporary state of the server.

    While another connection of the same send works, the delivery loop carries on with
    fewer connections (servers often cap connections per client) instead of stopping.
    """


class SenderRefused(DeliveryError):
    """The server refused the sender, not a recipient (a 5xx at MAIL FROM, "530
    authentication required"): every copy would be refused alike, so none is tried."""


class ServeError(DigestError):
    """``digest serve`` can't listen where it was asked to (port in use, bad address)."""


class NotConfirmed(DigestError):
    """A command that asks before it acts (``send``, ``reset``) has no terminal to ask on."""

    def __init__(self, command: str):
        super().__init__(
            f"`digest {command}` asks before it acts and there is no terminal to ask on "
            f"(cron, a pipe); pass --yes: digest {command} --yes"
        )


class AddressRefused(OSError):
    """The fetcher refused to connect to a non-public address (caught by the fetcher)."""

    def __init__(self, host: str, address: str, why: str):
        self.host = host
        self.address = address
        self.why = why
        super().__init__(f"{host} resolves to {address} ({why})")
