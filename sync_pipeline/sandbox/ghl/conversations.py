"""Conversations and outbound messages of the sandbox location (what ``POST /conversations/messages``
creates and the conversation endpoints read back). One conversation per contact, as in GHL."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sync_pipeline.sandbox.identifiers import token


@dataclass(frozen=True)
class Message:
    """One sent message. ``kind`` is the request's ``type`` (``Email`` or ``SMS``)."""

    id: str
    conversation_id: str
    contact_id: str
    kind: str
    body: str
    date_added_ms: int
    email_message_id: str | None = None
    subject: str | None = None
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()


@dataclass
class Conversation:
    id: str
    contact_id: str
    date_added_ms: int
    message_ids: list[str] = field(default_factory=list)  # oldest first


class MessageStore:
    """Thread-safe store of conversations and messages; ids derive from the seed and a counter."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._messages: dict[str, Message] = {}
            self._conversations: dict[str, Conversation] = {}
            self._by_contact: dict[str, str] = {}
            self._by_email_id: dict[str, str] = {}  # emailMessageId -> message id
            self._counter = 0

    def add(
        self,
        *,
        contact_id: str,
        kind: str,
        body: str,
        now_ms: int,
        subject: str | None = None,
        email_from: str | None = None,
        email_to: tuple[str, ...] = (),
        cc: tuple[str, ...] = (),
        bcc: tuple[str, ...] = (),
    ) -> Message:
        """Store a sent message in the contact's conversation (created on first message)."""
        with self._lock:
            self._counter += 1
            conversation_id = self._by_contact.get(contact_id)
            if conversation_id is None:
                conversation_id = token(self._seed, "ghl-conversation", self._counter)
                self._conversations[conversation_id] = Conversation(conversation_id, contact_id, now_ms)
                self._by_contact[contact_id] = conversation_id
            message = Message(
                id=token(self._seed, "ghl-message", self._counter),
                conversation_id=conversation_id,
                contact_id=contact_id,
                kind=kind,
                body=body,
                date_added_ms=now_ms,
                email_message_id=token(self._seed, "ghl-email-message", self._counter) if kind == "Email" else None,
                subject=subject,
                email_from=email_from,
                email_to=email_to,
                cc=cc,
                bcc=bcc,
            )
            self._messages[message.id] = message
            if message.email_message_id:
                self._by_email_id[message.email_message_id] = message.id
            self._conversations[conversation_id].message_ids.append(message.id)
            return message

    def message(self, message_id: str) -> Message | None:
        with self._lock:
            return self._messages.get(message_id)

    def email(self, email_message_id: str) -> Message | None:
        """The email message whose ``emailMessageId`` this is."""
        with self._lock:
            message_id = self._by_email_id.get(email_message_id)
            return self._messages.get(message_id) if message_id else None

    def conversation(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            return self._conversations.get(conversation_id)

    def conversations(self, contact_id: str | None) -> list[Conversation]:
        """Conversations of one contact (or all), most recently active first."""
        with self._lock:
            found = [c for c in self._conversations.values() if contact_id in (None, c.contact_id)]
            return sorted(found, key=lambda c: self._messages[c.message_ids[-1]].date_added_ms, reverse=True)

    def last_message(self, conversation: Conversation) -> Message:
        with self._lock:
            return self._messages[conversation.message_ids[-1]]

    def page(self, conversation: Conversation, last_message_id: str | None, limit: int) -> tuple[list[Message], bool]:
        """Messages newest first, after ``last_message_id``; and whether more follow."""
        with self._lock:
            newest_first = [self._messages[m] for m in reversed(conversation.message_ids)]
        start = 0
        if last_message_id:
            ids = [m.id for m in newest_first]
            start = ids.index(last_message_id) + 1 if last_message_id in ids else len(ids)
        chunk = newest_first[start : start + limit]
        return chunk, start + limit < len(newest_first)
