"""Load ``config.yaml`` once into a frozen, validated ``Config``.

Like Pelican's ``read_settings``: defaults ← file ← overrides, relative paths resolved against
the folder of the config file, and the raw YAML never leaves this module. Every error is a
``ConfigError`` naming the file, the key, the line (where YAML gives one) and the fix.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from digest.config import agree
from digest.config.schema import CONFIG_ENV, DEFAULT_CONFIG, Config, FolderSettings
from digest.errors import ConfigError


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | Path | None = None) -> Config:
    """Read, validate and freeze the config file at ``path``."""
    path = Path(path) if path is not None else default_config_path()
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            shown,
            "no such file; pass --config PATH, set DIGEST_CONFIG, or run from the folder "
            "that holds config.yaml",
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(shown, f"can't read the file ({e})") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    shown = str(path)
    try:
        _check_tokens(text, shown)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _refuse_duplicates(node, (), shown)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(shown, f"YAML syntax error: {problem}", line=line) from None
    if raw is None:
        raise ConfigError(shown, "the file is empty; start from the config.yaml in the README")
    if not isinstance(raw, dict):
        raise ConfigError(shown, "expected a mapping of keys (newsletter:, sources:, …) at the top")
    lines = _key_lines(node)
    for key in _FILLED_IN:
        if key in raw:  # digest sets these itself: the file's value would silently be dropped
            raise ConfigError(shown, _UNKNOWN, key=key, line=lines.get((key,)))
    try:
        config = Config.model_validate({**raw, "path": path.resolve()})
    except ValidationError as e:
        errors = e.errors()
        # A misspelt key also makes the real one "missing": name the misspelling first.
        err = min(errors, key=lambda x: x["type"] != "extra_forbidden")
        loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
        missing = [str(x["loc"][-1]) for x in errors if x["type"] == "missing"]
        key = ".".join(str(p) for p in loc).replace("from_", "from")
        message = _explain(err, missing=missing)
        raise ConfigError(shown, message, key=key, line=_line_for(lines, loc)) from None
    for key, message in agree.problems(config):  # checks across sections: schedule, selection
        raise ConfigError(shown, message, key=key, line=_line_for(lines, tuple(key.split("."))))
    return _resolve_paths(config)


#: Levels of nesting allowed (config.yaml needs four); PyYAML composes recursively.
MAX_NESTING = 40
#: Fields of ``Config`` digest fills in itself, never read from the file.
_FILLED_IN = ("path",)
_UNKNOWN = "unknown key; check its spelling against the config reference in the README"
_OPENS = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSES = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_tokens(text: str, shown: str) -> None:
    """Refuse, before anything is composed, nesting past ``MAX_NESTING`` and YAML aliases.

    The scanner is a loop, not a recursion, so this is safe on any input. Aliases are refused
    outright: a few hundred bytes of them expand to billions of values.
    """
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        line = token.start_mark.line + 1
        if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
            raise ConfigError(
                shown,
                "YAML anchors and aliases (&name, *name) are not allowed in config.yaml; "
                "write the value out in full",
                line=line,
            )
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_NESTING:
                raise ConfigError(
                    shown,
                    f"nested more than {MAX_NESTING} levels deep; config.yaml needs only a few "
                    "(see the config reference in the README)",
                    line=line,
                )
        elif isinstance(token, _CLOSES):
            depth -= 1


def _refuse_duplicates(node: yaml.Node, here: tuple[object, ...], shown: str) -> None:
    """A key given twice in one mapping, at any level, is an error naming both lines."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else id(k)
            line = k.start_mark.line + 1
            name = ".".join(str(p) for p in (*here, key))
            if key in seen:
                raise ConfigError(
                    shown,
                    f"duplicate key (first given on line {seen[key]}); keep one of the two",
                    key=name,
                    line=line,
                )
            seen[key] = line
            _refuse_duplicates(v, (*here, key), shown)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(item, (*here, i), shown)


def _is_union_tag(part: object) -> bool:
    return part in ("folder", "feed", "wordpress") or (
        isinstance(part, str) and part.startswith("function-")
    )


def _explain(err: Any, *, missing: list[str] | None = None) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        if "password" in name or "secret" in name:
            return (
                "secrets never go in config.yaml; put it in an environment variable and name "
                "that variable instead (smtp.password_env: SMTP_PASSWORD)"
            )
        close = difflib.get_close_matches(name, missing or [], n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown key; {hint}{_UNKNOWN.removeprefix('unknown key; ')}"
    if kind == "missing":
        return "this key is required"
    if kind == "union_tag_invalid":
        return f"unknown source type {err['input'].get('type')!r}; use folder, feed or wordpress"
    if kind == "union_tag_not_found":
        return "each source needs a type: folder, feed or wordpress"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind in ("int_parsing", "int_type", "float_parsing", "float_type", "bool_parsing"):
        return f"{msg}, got {err['input']!r}"
    return msg


def _key_lines(node: yaml.Node | None) -> dict[tuple[object, ...], int]:
    """Map each key path in the YAML document to its 1-based line number."""
    found: dict[tuple[object, ...], int] = {}

    def walk(n: yaml.Node, here: tuple[object, ...]) -> None:
        found.setdefault(here, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = (*here, k.value)
                found[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*here, i))

    if node is not None:
        walk(node, ())
    return found


def _line_for(lines: dict[tuple[object, ...], int], loc: tuple[object, ...]) -> int | None:
    loc = tuple("from" if p == "from_" else p for p in loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _resolve_paths(config: Config) -> Config:
    base = config.folder

    def res(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    sources = tuple(
        s.model_copy(update={"path": res(s.path)}) if isinstance(s, FolderSettings) else s
        for s in config.sources
    )
    update: dict[str, Any] = {
        "sources": sources,
        "state": (
            res(config.state)
            if isinstance(config.state, Path)
            else config.state.model_copy(update={"password_env": config.state_password_env})
        ),
        "outbox": res(config.outbox),
        "notes": res(config.notes),
        "templates": res(config.templates) if config.templates else None,
    }
    if config.smtp and config.smtp.ca_file:
        update["smtp"] = config.smtp.model_copy(update={"ca_file": res(config.smtp.ca_file)})
    if config.dkim:
        ed_key = config.dkim.ed25519_key_file
        update["dkim"] = config.dkim.model_copy(
            update={
                "key_file": res(config.dkim.key_file),
                "ed25519_key_file": ed_key and res(ed_key),
            }
        )
    resolved = config.model_copy(update=update)
    if resolved.templates is not None and not resolved.templates.is_dir():
        raise ConfigError(
            str(config.path),
            f"folder {resolved.templates} does not exist; create it or remove the key",
            key="templates",
        )
    return resolved
