"""Seal secrets that must travel through Temporal history (join tokens).

The worker seals with a key derived from EDGEWRIGHT_SECRET_KEY; the API unseals with the
same key. History and the Web UI only ever show the ciphertext.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from store.settings import Settings


class SealError(Exception):
    """The sealed value was made with another key or was altered."""


def seal(settings: Settings, secret: str) -> str:
    return Fernet(settings.sealing_key).encrypt(secret.encode()).decode()


def unseal(settings: Settings, sealed: str) -> str:
    try:
        return Fernet(settings.sealing_key).decrypt(sealed.encode()).decode()
    except InvalidToken as err:
        raise SealError("sealed value does not match this installation's secret key") from err
