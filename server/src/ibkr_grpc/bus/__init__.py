"""Pub/sub and cache adapters: Redis when REDIS_URL is set, in-process otherwise."""
