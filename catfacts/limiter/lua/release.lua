-- A slot's request was answered just now (it counts until a window after), or was never sent.
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[2] leases   slots in flight
-- ARGV[1] slot     the slot's id
-- ARGV[2] used     1: it was sent and its answer (or failure) came now; 0: never sent
-- ARGV[3] ttl      ms the log must outlive its newest entry (the longest window, and a lease)
-- Returns nothing.

local log_key, leases_key = KEYS[1], KEYS[2]
local slot, used, ttl = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREM', leases_key, slot)
if used then
  -- GT: a lease that ended before the answer came already counts it from then; count from now.
  redis.call('ZADD', log_key, 'GT', now, slot)
  redis.call('PEXPIRE', log_key, ttl)
else
  redis.call('ZREM', log_key, slot)
end
