"""Words for line states and acts, in Japanese and English, keyed by their stable values.

A leaf module (it imports nothing), so both the lifecycle and the errors can word a state.
"""

from __future__ import annotations

__all__ = ["ACT_DONE_EN", "ACT_JA", "STATUS_EN", "STATUS_JA"]

STATUS_JA = {
    "requested": "依頼中",
    "on_hold": "保留",
    "consolidated": "とりまとめ済",
    "ordered": "注文済",
    "deleted": "削除",
    "withdrawn": "取消",
}
STATUS_EN = {
    "requested": "requested",
    "on_hold": "on hold",
    "consolidated": "consolidated",
    "ordered": "ordered",
    "deleted": "deleted",
    "withdrawn": "withdrawn",
}
#: "it cannot be <done>".
ACT_DONE_EN = {
    "hold": "held",
    "consolidate": "consolidated",
    "delete": "deleted",
    "withdraw": "withdrawn",
    "release": "released",
    "order": "ordered",
    "order_status": "given an order status",
}
#: "<act>できません".
ACT_JA = {
    "hold": "保留",
    "consolidate": "とりまとめ",
    "delete": "削除",
    "withdraw": "取消",
    "release": "カゴからの取り出し",
    "order": "注文",
    "order_status": "オーダーステイタスの更新",
}
