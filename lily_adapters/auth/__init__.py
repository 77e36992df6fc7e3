"""The sign-in ports' adapters: argon2 password hashes, JWT user tokens, and the failed
sign-in throttle in Redis or in Lily's SQL database."""

from lily_adapters.auth.passwords import Argon2PasswordHasher
from lily_adapters.auth.throttles import (
    FallbackSignInThrottle,
    RedisSignInThrottle,
    SqlSignInThrottle,
)
from lily_adapters.auth.tokens import JwtTokenSigner

__all__ = [
    "Argon2PasswordHasher",
    "FallbackSignInThrottle",
    "JwtTokenSigner",
    "RedisSignInThrottle",
    "SqlSignInThrottle",
]
