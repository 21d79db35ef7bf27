-- A process that ran on its local share while Redis was away tells Redis what it spent, so the
-- shared budget counts it, and says it is back (the registry).
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[2] leases   slots in flight: score = when the lease ends
-- KEYS[3] sharers  process id -> when it was last heard (ms)
-- ARGV[1] me       this process's id
-- ARGV[2] ttl      ms the slot keys must outlive their newest entry
-- ARGV[3] stale    ms the registry lasts
-- ARGV[4] n        how many answered slots follow
-- ARGV[5...]       n pairs (slot id, ms ago its answer came), then pairs (slot id, ms its lease
--                  has left) for the slots still in flight
-- Returns {now} (ms).

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local answered, i = tonumber(ARGV[4]), 5
for _ = 1, answered do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZADD', KEYS[1], 'GT', now - tonumber(ARGV[i + 1]), ARGV[i])
  i = i + 2
end
while i < #ARGV do
  redis.call('ZADD', KEYS[2], 'GT', now + tonumber(ARGV[i + 1]), ARGV[i])
  i = i + 2
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]))
return {now}
