"""The vault's keys: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under
MultiFernet, which seals with the first key and opens with any, which is how a key is
rotated. Apart from core/pii/vault.py (the tokens and their values) because the accounts'
own secrets are sealed with the same keys (core/accounts.py), and the vault reads
accounts' settings: one module under both keeps the imports one way.

Keys come from SWITCHBOARD_VAULT_KEYS (comma-separated, newest first). A single-host
install without keys gets one generated in the data directory, as the dashboard's
session secret is.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from switchboard.core.settings import Settings

log = logging.getLogger("switchboard.core.pii.vault")

__all__ = ["KEY_FILE", "Vault", "VaultKeyError", "vault_for"]

#: The key file a single-host install keeps when SWITCHBOARD_VAULT_KEYS is unset.
KEY_FILE = ".switchboard-vault-key"


class VaultKeyError(RuntimeError):
    """A sealed value cannot be opened with the configured keys."""


@dataclass(frozen=True)
class Vault:
    """Seals and opens values with the configured keys; the first key seals."""

    keys: tuple[str, ...]

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self.keys])

    def seal(self, value: str) -> bytes:
        return self._fernet().encrypt(value.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet().decrypt(sealed).decode("utf-8")
        except InvalidToken:
            raise VaultKeyError(
                "a vaulted value cannot be decrypted with the configured keys: keep the old key in "
                "SWITCHBOARD_VAULT_KEYS (after the new one) until `switchboard customers rotate-keys` has run, "
                "and set the same keys on every host") from None

    def rotate(self, sealed: bytes) -> bytes:
        """The value sealed again with the newest key (the old key can then be dropped)."""
        try:
            return self._fernet().rotate(sealed)
        except InvalidToken:
            raise VaultKeyError("a vaulted value cannot be decrypted with any configured key; it cannot be "
                                "rotated") from None


def vault_for(settings: Settings) -> Vault:
    """The configured keys, or the install's own key file in the data directory."""
    if settings.vault_keys:
        return Vault(tuple(settings.vault_keys))
    if not settings.embedded:
        _warn_about_local_key()
    return Vault((_local_key(settings.data_dir),))


@cache
def _warn_about_local_key() -> None:
    """Once per process: the warning would otherwise repeat with every message."""
    log.warning("SWITCHBOARD_VAULT_KEYS is not set: values vaulted on this host cannot be revealed on another; "
                "set the same keys on every host")


def _local_key(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode() + "\n")
    return path.read_text().strip()
