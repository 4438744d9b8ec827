"""What we accept as a new password, wherever one is set: the API's user creation and the
first admin from EDGEWRIGHT_ADMIN_PASSWORD (store.bootstrap).

Length and a block list, as NIST SP 800-63B recommends, rather than composition rules
("one digit, one symbol"), which push people to `Password1!`. The check runs when a
password is set, never on login.
"""

from __future__ import annotations

MIN_LENGTH = 12
MAX_LENGTH = 1024  # Argon2 hashes whatever it is given; bound the work
_MIN_DISTINCT = 5
_COMMON = {
    "123456789012",
    "1234567890123",
    "administrator",
    "changeme1234",
    "password1234",
    "passwordpassword",
    "qwertyuiopas",
    "edgewright123",
    "kubeedge1234",
    "letmein12345",
}


def password_problem(password: str, *, username: str) -> str | None:
    """Why `password` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if len(set(password)) < _MIN_DISTINCT:
        return f"must contain at least {_MIN_DISTINCT} different characters"
    lowered = password.lower()
    if lowered in _COMMON:
        return "is a commonly used password"
    if username and username.lower() in lowered:
        return "must not contain the username"
    return None
