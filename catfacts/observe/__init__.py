"""Watching what happens: each call's timeline of upstream requests and limiter waits."""
