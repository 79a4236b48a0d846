"""Files written whole or not at all: temp file in the same folder, fsync, then rename.

A kill at any moment leaves either the old file or the new one, never a truncated one that
makes every later resume fail. Dependency-free: every package may import it.
"""

import json
import os
import uuid


def write_text(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    # 0o666 less the umask, as open() gives; tempfile.mkstemp would make it private (0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path: str, obj, indent: int | None = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, default=_plain, ensure_ascii=False) + "\n")


def _plain(v):
    if isinstance(v, tuple | set):
        return list(v)
    if hasattr(v, "item"):  # numpy and jax scalars
        return v.item()
    return str(v)
