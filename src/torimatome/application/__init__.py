"""Application services: each public call in one unit of work, ports only, events after commit."""
