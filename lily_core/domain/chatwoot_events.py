"""What Lily needs from a Chatwoot `message_created` webhook, independent of its wire shape."""

from __future__ import annotations

from typing import NamedTuple

import attrs

__all__ = ["CHATWOOT_ID_MAX", "ChatwootAttachment", "ChatwootInbound"]

# Chatwoot's ids are PostgreSQL serials (int4), and so is Lily's column that keeps its
# conversation ids: a larger id is no Chatwoot id.
CHATWOOT_ID_MAX = 2**31 - 1


class ChatwootAttachment(NamedTuple):
    """A file attached to a Chatwoot message. `file_type` is Chatwoot's coarse kind (`image`,
    `audio`, `video`, `file`, ...), not a MIME type; the real type is known once fetched."""

    url: str
    file_type: str

    @property
    def is_image(self) -> bool:
        return self.file_type == "image"


@attrs.frozen(kw_only=True)
class ChatwootInbound:
    """One Chatwoot message event. Only events with `is_incoming` (a contact wrote in a
    conversation) should be acted on; outgoing, activity and private messages are Chatwoot
    echoing its own side back and must be ignored."""

    event: str
    message_type: str  # incoming | outgoing | activity | template
    is_incoming: bool
    account_id: int
    inbox_id: int
    conversation_id: int
    message_id: int
    content: str
    sender_name: str | None = None
    sender_phone: str | None = None  # E.164, or None if Chatwoot has no valid number
    sender_email: str | None = None
    attachments: tuple[ChatwootAttachment, ...] = ()

    @property
    def photo_urls(self) -> tuple[str, ...]:
        """URLs of the image attachments: the ones that count as photos of the job."""
        return tuple(a.url for a in self.attachments if a.is_image)

    @property
    def dedupe_key(self) -> str:
        """Identifies the message across redeliveries of the same webhook."""
        return f"chatwoot:{self.account_id}:{self.message_id}"
