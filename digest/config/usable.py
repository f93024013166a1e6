"""Whether the files and folders a config names can be used, for ``digest check``.

Loading a config only validates its text; these look at the disk: a folder digest must
write into (or create), the Maildir outbox, a CA file. Each answers why not, or ``None``.
The state database is opened by ``digest.state.db.state_problem``, which builds on these.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path


def folder_problem(folder: Path) -> str | None:
    """Why files can't be made in ``folder`` (created first if it is missing), or ``None``."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"folder {existing} is not writable"
    return None


def maildir_problem(path: Path) -> str | None:
    """Why ``path`` can't be used (or created) as a Maildir to deliver into, or ``None``."""
    if not path.exists():
        return folder_problem(path)
    for folder in (path, path / "tmp", path / "new", path / "cur"):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a Maildir folder"
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            return f"folder {folder} is not writable"
    return None


def ca_file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable PEM file of CA certificates, or ``None``."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except FileNotFoundError:
        return f"{path}: no such file"
    except ssl.SSLError as e:
        return f"{path} holds no PEM certificate ({e.reason or e})"
    except OSError as e:
        return f"{path}: can't read it ({e.strerror or e})"
    return None
