-- Before a request goes on a slot taken a while ago (the process may have been paused since:
-- SIGSTOP, a VM migration, a long GC): is the slot still this process's? While its lease runs,
-- it is, and the lease is renewed from now so the request's whole flight is covered. Once the
-- lease ended, Redis counted the slot as answered then, and a window later freed it for others:
-- the slot is dropped (nothing was sent on it) and the request must take a new one.
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[2] leases   slots in flight: score = when the lease ends
-- ARGV[1] slot     the slot's id
-- ARGV[2] lease    ms a slot in flight may last before it counts as answered
-- ARGV[3] ttl      ms the slot keys must outlive their newest entry
-- Returns {1} if the slot is still this process's (lease renewed), else {0} (slot dropped).

local log_key, leases_key = KEYS[1], KEYS[2]
local slot, lease, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ends = tonumber(redis.call('ZSCORE', leases_key, slot))
if ends and ends > now then
  redis.call('ZADD', leases_key, 'XX', 'GT', now + lease, slot)
  redis.call('PEXPIRE', leases_key, ttl)
  return {1}
end
redis.call('ZREM', leases_key, slot)
redis.call('ZREM', log_key, slot)
return {0}
