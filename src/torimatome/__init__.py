"""torimatome: consolidated ordering (とりまとめ注文) for B2B shops.

Internal users request what they need; a coordinator reviews every requested line,
consolidates it into one real order, holds it or deletes it; both sides talk through short
messages and look back 15 months. Start with :func:`open`::

    import torimatome
    app = torimatome.open("sqlite:///office.sqlite3")
"""

from ._open import open
from .adapters.mail_transports import ConsoleMailTransport, MemoryMailTransport
from .adapters.memory_cart import CartItem, MemoryCart
from .adapters.smtp_transport import SmtpMailTransport
from .application.app import App
from .application.plugins import PluginInfo
from .domain.accounts import Account, AccountSettings
from .domain.cart import CartEntry, CartRef, PriceChange
from .domain.decide import Choice
from .domain.errors import (
    AccessDenied,
    AuthenticationFailed,
    CartError,
    CartRefused,
    ConfigurationError,
    Conflict,
    InvalidInput,
    InvalidTransition,
    MailError,
    NotFound,
    StorageError,
    TorimatomeError,
)
from .domain.events import (
    LinesDecided,
    LinesOrdered,
    LineWithdrawn,
    MessagePosted,
    RequestSubmitted,
    UserRegistered,
)
from .domain.features import Feature, FeatureSpec, RestrictionMatrix
from .domain.lines import LineStatus, RequestLine
from .domain.message_policy import GraphemePolicy, MessagePolicy, WidthPolicy
from .domain.messages import Message
from .domain.requests import NewLine, OrderRequest
from .domain.roles import Role
from .domain.users import NewUser, User
from .domain.views import (
    Decision,
    DeliveryReport,
    Page,
    PendingGroup,
    PurgeReport,
    Registration,
    RequestView,
)
from .ports.config import Config
from .ports.hookspecs import hookimpl
from .ports.mail import MailContext

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "Account",
    "AccountSettings",
    "App",
    "AuthenticationFailed",
    "CartEntry",
    "CartError",
    "CartItem",
    "CartRef",
    "CartRefused",
    "Choice",
    "Config",
    "ConfigurationError",
    "Conflict",
    "ConsoleMailTransport",
    "Decision",
    "DeliveryReport",
    "Feature",
    "FeatureSpec",
    "GraphemePolicy",
    "InvalidInput",
    "InvalidTransition",
    "LineStatus",
    "LineWithdrawn",
    "LinesDecided",
    "LinesOrdered",
    "MailContext",
    "MailError",
    "MemoryCart",
    "MemoryMailTransport",
    "Message",
    "MessagePolicy",
    "MessagePosted",
    "NewLine",
    "NewUser",
    "NotFound",
    "OrderRequest",
    "Page",
    "PendingGroup",
    "PluginInfo",
    "PriceChange",
    "PurgeReport",
    "Registration",
    "RequestLine",
    "RequestSubmitted",
    "RequestView",
    "RestrictionMatrix",
    "Role",
    "SmtpMailTransport",
    "StorageError",
    "TorimatomeError",
    "User",
    "UserRegistered",
    "WidthPolicy",
    "__version__",
    "hookimpl",
    "open",
]
