"""The hook specifications: every extension point of torimatome.

Hooks are called with keyword arguments; an implementation may accept fewer arguments than the
spec names. Write implementations with ``from torimatome import hookimpl``. The reference
adapters implement these same hooks with ``trylast=True``, so a shop's plugin wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

import pluggy

from ..domain.cart import CartEntry, CartRef
from ..domain.features import FeatureSpec
from ..domain.users import User
from ..domain.views import DeliveryReport
from .config import Config
from .mail import MailContext
from .storage import Storage

if TYPE_CHECKING:
    from ..domain.events import (
        LinesDecided,
        LinesOrdered,
        LineWithdrawn,
        MessagePosted,
        RequestSubmitted,
        UserRegistered,
    )

__all__ = ["PROJECT", "StorageFactory", "StorageRegistry", "hookimpl", "hookspec"]

PROJECT = "torimatome"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class StorageFactory(Protocol):
    def __call__(self, url: str, config: Config) -> Storage:
        """Build the storage for ``url`` (see :class:`torimatome.ports.storage.Storage`)."""


class StorageRegistry(Protocol):
    def add(self, scheme: str, factory: StorageFactory) -> None:
        """Offer a storage backend for URLs ``scheme://...``."""


# --- storage -------------------------------------------------------------------------------


@hookspec
def torimatome_register_storage(registry: StorageRegistry) -> None:
    """Add storage backends: ``registry.add(scheme, factory)``; ``factory(url, config)`` returns
    the storage. The first registration of a scheme wins, so a shop's plugin can replace a
    built-in backend."""


# --- cart ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def torimatome_add_to_cart(
    account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
) -> list[CartRef] | None:
    """Put consolidated lines in the coordinator's cart (firstresult).

    ``entries`` holds one :class:`CartEntry` per consolidated line, never a message. Return one
    :class:`CartRef` per entry (with ``current_unit_price`` when the cart knows today's price),
    raise :class:`CartRefused` ``({line_id: reason})`` to refuse lines (the whole batch is then
    refused), or return None to let the next implementation answer."""


@hookspec
def torimatome_remove_from_cart(
    account_id: str, coordinator_id: str, refs: Sequence[CartRef]
) -> None:
    """Take lines back out of the cart: a released line, or compensation when a decide failed
    after the cart accepted. Ignore refs this implementation did not issue."""


# --- mail ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def torimatome_compose_mail(
    event: MailContext, recipient: User, locale: str
) -> EmailMessage | None:
    """Return an :class:`~email.message.EmailMessage` to replace torimatome's template for this
    ``event`` and ``recipient``, or None (firstresult). torimatome fills in From, To, Date and
    Message-ID when missing and refuses a header with a line break."""


@hookspec(firstresult=True)
def torimatome_send_mail(message: EmailMessage) -> bool | None:
    """Deliver one mail (firstresult). Return True once the transport accepted it; None or an
    exception leaves it in the outbox for a later ``deliver_mail()``."""


@hookspec
def torimatome_delivery_started() -> None:
    """A ``deliver_mail()`` run is about to send its mails (only when a transport is
    registered): a transport may open one connection for the whole run here, or lazily at the
    first send. Called in the delivering thread; an exception is logged, never raised."""


@hookspec
def torimatome_delivery_finished(report: DeliveryReport) -> None:
    """A ``deliver_mail()`` run has finished, with what it did: a transport closes its
    connection here; monitoring may record the figures. Called in the delivering thread, even
    when the run failed midway; an exception is logged, never raised."""


@hookspec(firstresult=True)
def torimatome_screen_url(screen: str, account_id: str, request_id: str | None) -> str | None:
    """The shop's URL for a screen (firstresult): ``"consolidation"`` (the coordinator's
    notice, with the request's id), ``"request"`` (a requester's mail about one request) or
    ``"request_status"`` (asked when ``"request"`` gets None, and for mails about no request).
    ``request_id`` is given when the link concerns one request."""


# --- restriction matrix --------------------------------------------------------------------


@hookspec
def torimatome_extra_features() -> Sequence[FeatureSpec]:  # type: ignore[empty-body]
    """Return extra :class:`FeatureSpec` rows for the restriction matrix."""


# --- domain events (called after commit) ---------------------------------------------------


@hookspec
def torimatome_request_submitted(event: RequestSubmitted) -> None:
    """An internal user submitted a request."""


@hookspec
def torimatome_lines_decided(event: LinesDecided) -> None:
    """A coordinator decided a batch (consolidate / hold / delete)."""


@hookspec
def torimatome_message_posted(event: MessagePosted) -> None:
    """Someone posted on a request's thread."""


@hookspec
def torimatome_lines_ordered(event: LinesOrdered) -> None:
    """The shop recorded an order containing consolidated lines."""


@hookspec
def torimatome_line_withdrawn(event: LineWithdrawn) -> None:
    """A requester withdrew one of their undecided lines."""


@hookspec
def torimatome_user_registered(event: UserRegistered) -> None:
    """A coordinator registered a user (or an account was created with its coordinator)."""
