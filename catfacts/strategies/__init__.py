"""The three ways to fetch n facts, side by side.

- `one_by_one`: n requests one after another; stops at the first failure.
- `all_at_once`: n requests at once; whatever the upstream refuses is dropped.
- `limited`: n requests through the dispatcher, as fast as the limit allows; exactly n come back.
"""
