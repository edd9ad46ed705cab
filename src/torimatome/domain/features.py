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
    try:
        return frozenset(Role(r) for r in value)
    except ValueError:
        raise ConfigurationError(f"allowed must hold Role values only, got {value!r}.") from None


def _check_code(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ConfigurationError(
            f"A feature code is 1-64 of a-z, 0-9 and _, starting with a letter: {value!r}."
        )


@attrs.frozen
class FeatureSpec:
    """One row of the matrix: a feature code, its labels and the roles allowed to use it.

    ``denied_part_ja`` / ``denied_part_en`` name the part of the screen that is restricted when
    it is not the whole of it (the seed's ご利用いただけない機能 column).
    """

    code: str = attrs.field(validator=_check_code)
    label_ja: str
    label_en: str
    allowed: frozenset[Role] = attrs.field(converter=_roles)
    denied_part_ja: str = ""
    denied_part_en: str = ""


_BOTH = frozenset({Role.COORDINATOR, Role.INTERNAL})
_COORD = frozenset({Role.COORDINATOR})
_INTERNAL = frozenset({Role.INTERNAL})

# The seed's 使用制限機能一覧, row by row: (feature, 名称, denied part, name, denied part).
_SEED_TABLE = (
    (Feature.ORDER_HISTORY, "Webご注文履歴・再注文", "機能全般",
     "Web order history and reorder", "everything"),
    (Feature.CONSOLIDATION, "注文とりまとめ", "とりまとめ機能全般",
     "Order consolidation", "everything"),
    (Feature.POINTS_EXCHANGE, "アスクルスイートポイント", "賞品交換のお申し込み",
     "Loyalty points", "applying for prize exchange"),
    (Feature.POINTS_TRANSFER, "ポイント譲渡お申し込み", "", "Points transfer", ""),
    (Feature.POINTS_HISTORY, "ポイント履歴の閲覧", "", "Points history", ""),
    (Feature.FACILITY_INFO_CHANGE, "登録情報の変更", "施設情報項目",
     "Changing registered details", "facility fields"),
    (Feature.COMPANY_INFO_CHANGE, "会社情報の変更", "", "Changing company details", ""),
    (Feature.ADDRESS_BOOK_CHANGE, "アドレス帳の変更", "", "Changing the address book", ""),
    (Feature.BILLING_CUTOFF_CHANGE, "ご請求締切日の変更", "",
     "Changing the billing cut-off day", ""),
    (Feature.PAYMENT_METHOD_CHANGE, "お支払い方法の変更", "", "Changing the payment method", ""),
    (Feature.MONTHLY_BUDGET_CHANGE, "月額予算管理の変更", "", "Changing the monthly budget", ""),
    (Feature.INTERNAL_USER_MANAGEMENT, "社内ユーザー登録・変更", "",
     "Registering and changing internal users", ""),
    (Feature.FURNITURE_ASSEMBLY, "ご注文", "家具組立サービスのお申し込み",
     "Ordering", "applying for furniture assembly"),
    (Feature.PURCHASE, "お買い上げ", "", "Purchase (checkout)", ""),
    (Feature.SPECIAL_ORDERS, "「各種サービス・特注品」全般", "お申し込み",
     "Services and special orders", "applying"),
    (Feature.REFERRAL, "お知り合い紹介", "お申し込み", "Referrals", "applying"),
    (Feature.CAMPAIGN, "キャンペーン", "お申し込み", "Campaigns", "applying"),
)  # fmt: skip

BUILTIN_FEATURES: tuple[FeatureSpec, ...] = (
    *(FeatureSpec(f.value, ja, en, _COORD, part_ja, part_en)
      for f, ja, part_ja, en, part_en in _SEED_TABLE),
    FeatureSpec(Feature.REQUEST_ORDER.value, "注文を依頼する", "Requesting an order", _INTERNAL),
    FeatureSpec(Feature.REQUEST_STATUS.value, "ご注文依頼状況確認", "Request status", _BOTH),
    FeatureSpec(Feature.PROFILE_CHANGE.value, "登録情報の変更（施設情報以外）",
                "Changing one's own profile", _BOTH),
    FeatureSpec(Feature.MESSAGES.value, "伝言メッセージ", "Messages", _BOTH),
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
