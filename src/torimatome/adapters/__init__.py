"""Reference adapters: storage (memory, SQLite), cart (memory), mail transports, credentials.

Each registers through the same hooks a third-party plugin would use (see ``builtin``).
"""
