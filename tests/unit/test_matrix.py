"""The restriction matrix (ユーザー権限, DESIGN §1): who may use which guarded feature."""

from __future__ import annotations

import pytest

from torimatome.domain.errors import AccessDenied, ConfigurationError
from torimatome.domain.features import (
    BUILTIN_FEATURES,
    Feature,
    FeatureSpec,
    RestrictionMatrix,
)
from torimatome.domain.roles import Role

#: The seed's 使用制限機能一覧, copied literally from DESIGN.md §1.
SEED_DENIED_TO_INTERNAL = frozenset(
    {
        "order_history",
        "consolidation",
        "points_exchange",
        "points_transfer",
        "points_history",
        "facility_info_change",
        "company_info_change",
        "address_book_change",
        "billing_cutoff_change",
        "payment_method_change",
        "monthly_budget_change",
        "internal_user_management",
        "furniture_assembly",
        "purchase",
        "special_orders",
        "referral",
        "campaign",
    }
)
ALLOWED_TO_INTERNAL = frozenset({"request_order", "request_status", "profile_change", "messages"})
DENIED_TO_COORDINATOR = frozenset({"request_order"})
ACCESS_DENIED_JA = "お客様はこちらの画面を見ることができません"


@pytest.fixture
def matrix() -> RestrictionMatrix:
    return RestrictionMatrix.build()


def _expected(role: Role, code: str) -> bool:
    if role is Role.INTERNAL:
        return code in ALLOWED_TO_INTERNAL
    return code not in DENIED_TO_COORDINATOR


def test_the_seed_table_lists_seventeen_denied_features() -> None:
    assert len(SEED_DENIED_TO_INTERNAL) == 17


def test_the_built_in_features_are_the_seed_table_plus_the_internal_users_own() -> None:
    codes = {f.value for f in Feature}
    assert codes == SEED_DENIED_TO_INTERNAL | ALLOWED_TO_INTERNAL
    assert [spec.code for spec in BUILTIN_FEATURES] == [f.value for f in Feature]


def test_internal_users_are_denied_exactly_the_seventeen_seed_features(
    matrix: RestrictionMatrix,
) -> None:
    denied = {spec.code for spec in matrix.denied_for(Role.INTERNAL)}
    assert denied == SEED_DENIED_TO_INTERNAL


@pytest.mark.parametrize("code", sorted(SEED_DENIED_TO_INTERNAL))
def test_every_seed_denied_feature_is_allowed_to_coordinators(
    matrix: RestrictionMatrix, code: str
) -> None:
    assert matrix.allows(Role.COORDINATOR, code)
    assert not matrix.allows(Role.INTERNAL, code)


@pytest.mark.parametrize("code", sorted(ALLOWED_TO_INTERNAL))
def test_internal_users_may_request_check_status_change_profile_and_message(
    matrix: RestrictionMatrix, code: str
) -> None:
    assert matrix.allows(Role.INTERNAL, code)
    matrix.require(Role.INTERNAL, code)


def test_coordinators_are_allowed_everything_except_requesting_an_order(
    matrix: RestrictionMatrix,
) -> None:
    denied = {spec.code for spec in matrix.denied_for(Role.COORDINATOR)}
    assert denied == DENIED_TO_COORDINATOR
    with pytest.raises(AccessDenied):
        matrix.require(Role.COORDINATOR, Feature.REQUEST_ORDER)


@pytest.mark.parametrize("spec", BUILTIN_FEATURES, ids=lambda s: s.code)
def test_every_built_in_feature_has_a_japanese_and_an_english_label(spec: FeatureSpec) -> None:
    assert spec.label_ja.strip()
    assert spec.label_en.strip()
    assert not spec.label_ja.isascii()


def test_a_denied_feature_raises_access_denied_with_the_seed_japanese_text(
    matrix: RestrictionMatrix,
) -> None:
    with pytest.raises(AccessDenied) as caught:
        matrix.require(Role.INTERNAL, Feature.CONSOLIDATION)
    assert caught.value.ja == ACCESS_DENIED_JA
    assert caught.value.message("ja") == ACCESS_DENIED_JA
    assert caught.value.feature == "consolidation"
    assert isinstance(caught.value, PermissionError)


def test_require_returns_quietly_for_an_allowed_feature(matrix: RestrictionMatrix) -> None:
    assert matrix.require(Role.COORDINATOR, Feature.PURCHASE) is None


def test_extra_feature_specs_extend_the_matrix() -> None:
    gift = FeatureSpec("gift_wrap", "ギフト包装", "Gift wrapping", {Role.COORDINATOR})
    survey = FeatureSpec("survey", "アンケート", "Survey", Role.INTERNAL)
    matrix = RestrictionMatrix.build([gift, survey])
    assert matrix.allows(Role.COORDINATOR, "gift_wrap")
    assert not matrix.allows(Role.INTERNAL, "gift_wrap")
    assert matrix.allows(Role.INTERNAL, "survey")
    assert not matrix.allows(Role.COORDINATOR, "survey")
    assert matrix.spec("gift_wrap") is gift
    assert len(matrix.rows()) == len(BUILTIN_FEATURES) + 2
    # The built-in rows are untouched.
    assert {s.code for s in matrix.denied_for(Role.INTERNAL)} == SEED_DENIED_TO_INTERNAL | {
        "gift_wrap"
    }


def test_an_extra_feature_reusing_a_built_in_code_is_a_configuration_error() -> None:
    duplicate = FeatureSpec("purchase", "お買い上げ", "Purchase", {Role.INTERNAL})
    with pytest.raises(ConfigurationError):
        RestrictionMatrix.build([duplicate])


def test_two_extra_features_with_the_same_code_are_a_configuration_error() -> None:
    one = FeatureSpec("gift_wrap", "ギフト包装", "Gift wrapping", {Role.COORDINATOR})
    two = FeatureSpec("gift_wrap", "ラッピング", "Wrapping", {Role.INTERNAL})
    with pytest.raises(ConfigurationError):
        RestrictionMatrix.build([one, two])


def test_an_extra_feature_that_is_not_a_feature_spec_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        RestrictionMatrix.build([("gift_wrap", {Role.COORDINATOR})])  # type: ignore[list-item]


@pytest.mark.parametrize("role", list(Role))
def test_an_unknown_feature_is_a_configuration_error(matrix: RestrictionMatrix, role: Role) -> None:
    with pytest.raises(ConfigurationError):
        matrix.spec("no_such_feature")
    with pytest.raises(ConfigurationError):
        matrix.allows(role, "no_such_feature")
    with pytest.raises(ConfigurationError):
        matrix.require(role, "no_such_feature")


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("feature", list(Feature))
def test_every_matrix_cell_matches_the_design_table(
    matrix: RestrictionMatrix, feature: Feature, role: Role
) -> None:
    expected = _expected(role, feature.value)
    assert matrix.allows(role, feature) is expected
    assert matrix.allows(role, feature.value) is expected
    if expected:
        matrix.require(role, feature)
    else:
        with pytest.raises(AccessDenied) as caught:
            matrix.require(role, feature)
        assert caught.value.ja == ACCESS_DENIED_JA
