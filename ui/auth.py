"""Logins for `rag serve --auth FILE`: one `user:hash` line per user, passwords hashed with scrypt.

A hash reads `scrypt$N$r$p$salt$key` (salt and key in hex, a fresh 16-byte salt per user), so the
file holds no password and two users with the same password get different lines. Gradio calls
`Users.check` at login and keeps a session cookie afterwards; this module does not rate-limit.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from rag.errors import ConfigError

SCRYPT = (2**14, 8, 1)  # N, r, p: about 16 MiB and a few tens of milliseconds per login
MIN_PASSWORD = 8
USER_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")
HASH = re.compile(r"scrypt\$\d{1,8}\$\d{1,3}\$\d{1,3}\$[0-9a-f]{2,128}\$[0-9a-f]{2,256}")


def hash_password(password: str, *, salt: bytes | None = None, cost: tuple[int, int, int] = SCRYPT) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    n, r, p = cost
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * r * (n + p + 2))
    return f"scrypt${n}${r}${p}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    if not HASH.fullmatch(stored):
        return False
    _, n, r, p, salt, _ = stored.split("$")
    try:
        computed = hash_password(password, salt=bytes.fromhex(salt), cost=(int(n), int(r), int(p)))
    except ValueError:  # odd-length hex, or a cost scrypt refuses
        return False
    return hmac.compare_digest(computed, stored)


class Users:
    """The users a server accepts, read from `user:hash` lines (blank lines and # comments skipped)."""

    def __init__(self, text: str, origin: str = "the user list"):
        self.hashes: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, stored = line.partition(":")
            if not USER_NAME.fullmatch(name) or not HASH.fullmatch(stored):
                raise ConfigError(
                    f"{origin} line {number} is not 'user:scrypt$...'; "
                    "add users with rag serve --add-user NAME --auth FILE"
                )
            self.hashes[name] = stored
        if not self.hashes:
            raise ConfigError(f"{origin} holds no users; add one with rag serve --add-user NAME --auth FILE")
        self._unknown = hash_password(secrets.token_hex(16))  # unknown names cost as much time as known ones

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Users:
        try:
            return cls(Path(path).read_text(encoding="utf-8"), origin=str(path))
        except OSError as err:
            raise ConfigError(f"cannot read the user file {path}: {err.strerror}") from err

    def check(self, user: str, password: str) -> bool:
        """Gradio's `auth=` callable: True for a known user with the right password."""
        ok = verify_password(password, self.hashes.get(user, self._unknown))
        return ok and user in self.hashes


def add_user(path: str | os.PathLike, name: str, password: str) -> bool:
    """Write `name`'s hashed password into the user file (created 0600); True when it replaced one."""
    if not USER_NAME.fullmatch(name):
        raise ConfigError(f"user name {name!r} must be 1-64 letters, digits or _ . @ + -")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must be at least {MIN_PASSWORD} characters long")
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.strip().partition(":")[0] != name]
    kept.append(f"{name}:{hash_password(password)}")
    part = path.with_name(f".{path.name}.part")
    part.unlink(missing_ok=True)  # so the file is created afresh with mode 0600
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(kept) + "\n")
    os.replace(part, path)
    return len(kept) == len(lines)
