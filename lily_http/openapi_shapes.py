"""What the webhook and upload routes take and answer, written out for the OpenAPI document.
Their handlers read the raw request (a signature covers the raw body, and a capped read
comes first), so FastAPI cannot infer any of it from their parameters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "WebhookAck",
    "errors",
    "form_body",
    "header",
    "json_body",
    "query",
]

# The shape of every error Lily answers with (lily_http.app), written inline: it must sit
# under application/json even on routes whose own answers are XML.
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_ERRORS = {
    400: "The body is not what the route takes; the message names the field",
    403: "The request is not signed by the tenant's secret",
    404: "No such tenant (or, for uploads, no local photo store)",
    413: "The body is larger than the route accepts",
    503: "A provider the webhook needs could not be reached; the sender retries later",
}


class WebhookAck(BaseModel):
    """A JSON webhook's answer: 200 whenever the provider should not retry the event."""

    status: str = Field(
        description="What Lily did: created, rescheduled, cancelled, duplicate, conversation, "
        "opted_out, ..., or ignored (an event Lily does not act on)"
    )
    reason: str | None = Field(None, description="Why the event was ignored (Chatwoot)")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these error statuses, with the error shape."""
    return {
        status: {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
        for status in statuses
    }


def form_body(fields: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An `application/x-www-form-urlencoded` request body with these fields (name ->
    description); other fields are allowed (providers send more than Lily reads)."""
    return _body(
        "application/x-www-form-urlencoded",
        {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": d} for name, d in fields.items()
            },
            "required": list(required),
            "additionalProperties": {"type": "string"},
        },
    )


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """An `application/json` request body with this schema."""
    return _body("application/json", schema)


def _body(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {media_type: {"schema": schema}}}


def header(name: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return _parameter("header", name, description, required)


def query(name: str, description: str) -> dict[str, Any]:
    return _parameter("query", name, description, False)


def _parameter(where: str, name: str, description: str, required: bool) -> dict[str, Any]:
    return {
        "in": where,
        "name": name,
        "description": description,
        "required": required,
        "schema": {"type": "string"},
    }
