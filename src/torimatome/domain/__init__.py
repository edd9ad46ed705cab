"""The pure core of torimatome: rules, matrix, lifecycle and policies. No I/O, no ports.

Only the standard library and attrs are imported here; a test holds that line.
"""
