"""A real SMTP sink in its own process, for tests that kill the sender (``kill -9``).

    python tests/support/sink_process.py OUT_DIR

Listens on 127.0.0.1 (a kernel-chosen port, written to ``OUT_DIR/port`` once ready) and
stores every message it accepts as its own file in ``OUT_DIR/mail/`` (written to a temporary
name, then renamed, so a reader never sees half a message). Runs until terminated.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.smtp import Pipelining, _BoundController


class _ToFiles(Pipelining):
    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = uuid.uuid4().hex
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(
            b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n"
            + envelope.original_content
        )  # fmt: skip
        os.replace(tmp, self.folder / f"{name}.eml")
        return "250 2.0.0 stored"


def main() -> None:
    out = Path(sys.argv[1])
    mail = out / "mail"
    mail.mkdir(parents=True, exist_ok=True)
    controller = _BoundController(_ToFiles(mail))
    controller.start()
    (out / "port.tmp").write_text(str(controller.port))
    os.replace(out / "port.tmp", out / "port")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
