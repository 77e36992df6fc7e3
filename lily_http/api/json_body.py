"""What a route taking a JSON body may answer besides its own errors: a body that is not JSON
at all is 400 (lily_http.app), before any validation."""

from __future__ import annotations

from typing import Any

from lily_http.api.errors import ErrorBody

__all__ = ["NOT_JSON"]

NOT_JSON: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"}
}
