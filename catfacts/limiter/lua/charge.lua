-- Count n requests sent without slots (all at once) as answered `later` ms from now, the latest
-- their answers can come (`settle` brings them forward), if every policy of the allowance has
-- room for all n beside the slots that count; else say how long until it may.
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[2] leases   slots in flight: score = when the lease ends
-- ARGV[1] n        the requests to count
-- ARGV[2] prefix   their ids: prefix .. i
-- ARGV[3] later    ms from now to count them from, until settled
-- ARGV[4] ttl      ms the log must outlive its newest entry
-- ARGV[5...]       the allowance: limit, window (ms), limit, window, ...
-- Returns {charged (1 or 0), ms to wait}.

local log_key, leases_key = KEYS[1], KEYS[2]
local n, prefix, later, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

-- As `acquire`: the n must fit under every policy beside the slots that count.
local flying = redis.call('ZCARD', leases_key)
local wait = 0
for i = 5, #ARGV - 1, 2 do
  wait = math.max(wait, room_wait(log_key, now, flying, n, tonumber(ARGV[i]), tonumber(ARGV[i + 1])))
end
if wait > 0 then return {0, wait} end
for i = 1, n do redis.call('ZADD', log_key, now + later, prefix .. i) end
if redis.call('PTTL', log_key) < tonumber(ttl) then redis.call('PEXPIRE', log_key, ttl) end
return {1, 0}
