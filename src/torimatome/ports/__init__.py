"""Ports: the interfaces torimatome's services call (``typing.Protocol``) and the hook specs."""
