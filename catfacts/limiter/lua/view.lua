-- The registry of processes that share these slots, renewed, and what counts now: the heartbeat
-- a process sends while Redis answers, so that it knows its fair local share if Redis goes.
--
-- KEYS[1] sharers  process id -> when it was last heard (ms); trimmed by age
-- KEYS[2] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[3] leases   slots in flight: score = when the lease ends
-- ARGV[1] me       this process's id
-- ARGV[2] stale    ms after which a process not heard of is no longer a sharer
-- ARGV[3] longest  ms of the longest window: older answers count against nothing
-- Returns {now, sharers with scores, answers within the longest window with scores, leases}.

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local stale = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - stale)
redis.call('PEXPIRE', KEYS[1], stale)
return {
  now,
  redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'),
  redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - tonumber(ARGV[3])), '+inf', 'WITHSCORES'),
  redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES'),
}
