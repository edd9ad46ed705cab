"""The default mail texts, per (event, recipient role, locale).

Shops replace any of them through the ``torimatome_compose_mail`` hook.
"""

from __future__ import annotations

__all__ = ["COORDINATOR", "INTRO", "REQUESTER", "SUBJECTS", "USER"]

REQUESTER = "requester"
COORDINATOR = "coordinator"
USER = "user"

SUBJECTS = {
    ("request_submitted", REQUESTER, "ja"): "【ご注文依頼確認】ご注文依頼を受け付けました",
    ("request_submitted", REQUESTER, "en"): "Your order request has been received",
    (
        "request_submitted",
        COORDINATOR,
        "ja",
    ): "【注文とりまとめ】{requester} 様からご注文依頼が届きました",
    ("request_submitted", COORDINATOR, "en"): "New order request from {requester}",
    ("lines_decided", REQUESTER, "ja"): "【ご注文依頼状況】依頼内容が更新されました",
    ("lines_decided", REQUESTER, "en"): "Your order request was reviewed",
    (
        "message_posted",
        REQUESTER,
        "ja",
    ): "【伝言メッセージ】とりまとめ担当者からメッセージが届きました",
    ("message_posted", REQUESTER, "en"): "New message from your coordinator",
    (
        "message_posted",
        COORDINATOR,
        "ja",
    ): "【伝言メッセージ】{requester} 様からメッセージが届きました",
    ("message_posted", COORDINATOR, "en"): "New message from {requester}",
    ("lines_ordered", REQUESTER, "ja"): "【ご注文依頼状況】ご依頼の商品を注文しました",
    ("lines_ordered", REQUESTER, "en"): "Your requested items were ordered",
    ("line_withdrawn", COORDINATOR, "ja"): "【注文とりまとめ】{requester} 様が依頼を取り消しました",
    ("line_withdrawn", COORDINATOR, "en"): "{requester} withdrew a requested item",
    ("user_registered", USER, "ja"): "【ご登録完了】ログインIDを発行しました",
    ("user_registered", USER, "en"): "Your login ID has been issued",
}

INTRO = {
    (
        "request_submitted",
        REQUESTER,
        "ja",
    ): "ご注文依頼を受け付けました。とりまとめ担当者の確認をお待ちください。",
    (
        "request_submitted",
        REQUESTER,
        "en",
    ): "We received your order request. Your coordinator will review it.",
    (
        "request_submitted",
        COORDINATOR,
        "ja",
    ): "社内ユーザーからご注文依頼が届きました。「注文とりまとめ」画面でご確認ください。",
    (
        "request_submitted",
        COORDINATOR,
        "en",
    ): "An internal user sent an order request. Review it on the consolidation screen.",
    ("lines_decided", REQUESTER, "ja"): "とりまとめ担当者がご依頼の内容を確認しました。",
    ("lines_decided", REQUESTER, "en"): "Your coordinator reviewed your request.",
    ("message_posted", REQUESTER, "ja"): "とりまとめ担当者から伝言メッセージが届きました。",
    ("message_posted", REQUESTER, "en"): "Your coordinator left you a message.",
    ("message_posted", COORDINATOR, "ja"): "社内ユーザーから伝言メッセージが届きました。",
    ("message_posted", COORDINATOR, "en"): "An internal user left you a message.",
    ("lines_ordered", REQUESTER, "ja"): "ご依頼の商品を注文しました。",
    ("lines_ordered", REQUESTER, "en"): "The items you requested were ordered.",
    ("line_withdrawn", COORDINATOR, "ja"): "社内ユーザーが依頼を取り消しました。",
    ("line_withdrawn", COORDINATOR, "en"): "An internal user withdrew a requested item.",
    (
        "user_registered",
        USER,
        "ja",
    ): "ログインIDを発行しました。初期パスワードは担当者からお受け取りください。",
    (
        "user_registered",
        USER,
        "en",
    ): "Your login ID was issued. Your coordinator gives you the initial password.",
}
