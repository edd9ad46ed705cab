"""torimatome: consolidated ordering (とりまとめ注文) for B2B shops."""
