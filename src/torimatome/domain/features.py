"""The restriction matrix (ユーザー権限): which role may perform which guarded act.

Every guarded act is a :class:`Feature` (built in) or a :class:`FeatureSpec` (added by a shop or
plugin). The matrix is plain data: it can be queried, extended and printed as a table.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

import attrs

from .errors import AccessDenied, ConfigurationError
from .roles import Role

__all__ = ["BUILTIN_FEATURES", "Feature", "FeatureSpec", "RestrictionMatrix"]

_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class Feature(enum.StrEnum):
    """The built-in features: the seed's 17 restricted ones, then the internal users' own."""

    ORDER_HISTORY = "order_history"
    CONSOLIDATION = "consolidation"
    POINTS_EXCHANGE = "points_exchange"
    POINTS_TRANSFER = "points_transfer"
    POINTS_HISTORY = "points_history"
    FACILITY_INFO_CHANGE = "facility_info_change"
    COMPANY_INFO_CHANGE = "company_info_change"
    ADDRESS_BOOK_CHANGE = "address_book_change"
    BILLING_CUTOFF_CHANGE = "billing_cutoff_change"
    PAYMENT_METHOD_CHANGE = "payment_method_change"
    MONTHLY_BUDGET_CHANGE = "monthly_budget_change"
    INTERNAL_USER_MANAGEMENT = "internal_user_management"
    FURNITURE_ASSEMBLY = "furniture_assembly"
    PURCHASE = "purchase"
    SPECIAL_ORDERS = "special_orders"
    REFERRAL = "referral"
    CAMPAIGN = "campaign"
    REQUEST_ORDER = "request_order"
    REQUEST_STATUS = "request_status"
    PROFILE_CHANGE = "profile_change"
    MESSAGES = "messages"


def _roles(value: object) -> frozenset[Role]:
    if isinstance(value, Role):
        return frozenset({value})
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise ConfigurationError(f"allowed must be a set of Role, got {value!r}.")
    return frozenset(Role(r) for r in value)


def _check_code(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ConfigurationError(
            f"A feature code is 1-64 of a-z, 0-9 and _, starting with a letter: {value!r}."
        )


@attrs.frozen
class FeatureSpec:
    """One row of the matrix: a feature code, its labels and the roles allowed to use it."""

    code: str = attrs.field(validator=_check_code)
    label_ja: str
    label_en: str
    allowed: frozenset[Role] = attrs.field(converter=_roles)
    denied_part_ja: str = ""


_BOTH = frozenset({Role.COORDINATOR, Role.INTERNAL})
_COORD = frozenset({Role.COORDINATOR})
_INTERNAL = frozenset({Role.INTERNAL})


def _spec(f: Feature, ja: str, en: str, allowed: frozenset[Role], part: str = "") -> FeatureSpec:
    return FeatureSpec(f.value, ja, en, allowed, part)


BUILTIN_FEATURES: tuple[FeatureSpec, ...] = (
    _spec(Feature.ORDER_HISTORY, "Webご注文履歴・再注文", "Web order history and reorder", _COORD,
          "機能全般"),
    _spec(Feature.CONSOLIDATION, "注文とりまとめ", "Order consolidation", _COORD,
          "とりまとめ機能全般"),
    _spec(Feature.POINTS_EXCHANGE, "アスクルスイートポイント", "Points: prize exchange", _COORD,
          "賞品交換のお申し込み"),
    _spec(Feature.POINTS_TRANSFER, "ポイント譲渡お申し込み", "Points transfer", _COORD),
    _spec(Feature.POINTS_HISTORY, "ポイント履歴の閲覧", "Points history", _COORD),
    _spec(Feature.FACILITY_INFO_CHANGE, "登録情報の変更", "Change facility information", _COORD,
          "施設情報項目"),
    _spec(Feature.COMPANY_INFO_CHANGE, "会社情報の変更", "Change company information", _COORD),
    _spec(Feature.ADDRESS_BOOK_CHANGE, "アドレス帳の変更", "Change the address book", _COORD),
    _spec(Feature.BILLING_CUTOFF_CHANGE, "ご請求締切日の変更", "Change the billing cut-off day",
          _COORD),
    _spec(Feature.PAYMENT_METHOD_CHANGE, "お支払い方法の変更", "Change the payment method", _COORD),
    _spec(Feature.MONTHLY_BUDGET_CHANGE, "月額予算管理の変更", "Change the monthly budget", _COORD),
    _spec(Feature.INTERNAL_USER_MANAGEMENT, "社内ユーザー登録・変更",
          "Register and change internal users", _COORD),
    _spec(Feature.FURNITURE_ASSEMBLY, "ご注文", "Furniture assembly service", _COORD,
          "家具組立サービスのお申し込み"),
    _spec(Feature.PURCHASE, "お買い上げ", "Purchase (checkout)", _COORD),
    _spec(Feature.SPECIAL_ORDERS, "「各種サービス・特注品」全般", "Services and special orders",
          _COORD, "お申し込み"),
    _spec(Feature.REFERRAL, "お知り合い紹介", "Referral", _COORD, "お申し込み"),
    _spec(Feature.CAMPAIGN, "キャンペーン", "Campaigns", _COORD, "お申し込み"),
    _spec(Feature.REQUEST_ORDER, "注文を依頼する", "Request an order", _INTERNAL),
    _spec(Feature.REQUEST_STATUS, "ご注文依頼状況確認", "Request status", _BOTH),
    _spec(Feature.PROFILE_CHANGE, "登録情報の変更（施設情報以外）", "Change own profile", _BOTH),
    _spec(Feature.MESSAGES, "伝言メッセージ", "Messages", _BOTH),
)  # fmt: skip


@attrs.frozen
class RestrictionMatrix:
    """All features by code: a denied feature raises :class:`AccessDenied`, an unknown one
    :class:`ConfigurationError` (a typo in a shop's code, not a user's fault)."""

    specs: Mapping[str, FeatureSpec]

    @classmethod
    def build(cls, extra: Iterable[FeatureSpec] = ()) -> RestrictionMatrix:
        """The built-in matrix plus ``extra`` rows; a duplicate code is a configuration error."""
        specs: dict[str, FeatureSpec] = {}
        for spec in (*BUILTIN_FEATURES, *extra):
            if not isinstance(spec, FeatureSpec):
                raise ConfigurationError(f"Extra features must be FeatureSpec, got {spec!r}.")
            if spec.code in specs:
                raise ConfigurationError(f"Feature {spec.code!r} is defined twice.")
            specs[spec.code] = spec
        return cls(specs)

    def spec(self, feature: str | Feature) -> FeatureSpec:
        try:
            return self.specs[str(feature)]
        except KeyError:
            raise ConfigurationError(f"Unknown feature {str(feature)!r}.") from None

    def allows(self, role: Role, feature: str | Feature) -> bool:
        return role in self.spec(feature).allowed

    def require(self, role: Role, feature: str | Feature) -> None:
        if not self.allows(role, feature):
            raise AccessDenied(str(feature))

    def denied_for(self, role: Role) -> list[FeatureSpec]:
        return [s for s in self.specs.values() if role not in s.allowed]

    def rows(self) -> list[FeatureSpec]:
        return list(self.specs.values())
