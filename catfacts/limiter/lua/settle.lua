-- Requests charged without slots (`charge`) were answered by now: count them from now, never
-- later than they were counted; if they already stopped counting, nothing is added back.
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- ARGV[1] n        how many were charged
-- ARGV[2] prefix   their ids: prefix .. i
-- Returns nothing.

local log_key, n, prefix = KEYS[1], tonumber(ARGV[1]), ARGV[2]

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i = 1, n do redis.call('ZADD', log_key, 'XX', 'LT', now, prefix .. i) end
