"""User tokens: JWTs signed HS256 with a key derived from LILY_SECRET_KEY."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import jwt

from lily_core.errors import Unauthenticated
from lily_core.ports.auth import TokenClaims, TokenSigner

ALGORITHM = "HS256"
_CLAIMS = ("sub", "tid", "iat", "exp")


class JwtTokenSigner(TokenSigner):
    """Claims: `sub` the user id, `tid` the tenant id, `iat` and `exp` (POSIX seconds).

    Only HS256 is accepted when reading (never the token's own say, so no `none` and no
    algorithm confusion). PyJWT's own `exp`/`iat` checks compare with the system time;
    Lily's use case checks expiry against its Clock instead (which tests move), so here the
    claims are only required to be there and well-typed."""

    def __init__(self, secret: str) -> None:
        # A key of its own for tokens (the secret also signs upload URLs), 32 bytes as RFC
        # 7518 asks of HS256 whatever the length of LILY_SECRET_KEY.
        self._key = hmac.new(secret.encode(), b"lily user tokens", hashlib.sha256).digest()

    def sign(self, claims: TokenClaims) -> str:
        payload = {
            "sub": claims.user_id,
            "tid": claims.tenant_id,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def read(self, token: str) -> TokenClaims:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": list(_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise Unauthenticated("invalid or expired token") from None
        sub, tid, iat, exp = (payload[name] for name in _CLAIMS)
        if not (isinstance(sub, str) and isinstance(tid, str)):
            raise Unauthenticated("invalid or expired token")
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in (iat, exp)):
            raise Unauthenticated("invalid or expired token")
        try:
            issued_at, expires_at = (datetime.fromtimestamp(t, UTC) for t in (iat, exp))
        except (OverflowError, ValueError, OSError):  # out of datetime's range
            raise Unauthenticated("invalid or expired token") from None
        return TokenClaims(user_id=sub, tenant_id=tid, issued_at=issued_at, expires_at=expires_at)
