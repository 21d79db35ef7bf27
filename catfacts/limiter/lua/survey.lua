-- Say what this process has queued, and look at the budget without taking anything: the slots
-- that count against the tightest policy, when one frees, the pause, and the others' queues.
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[2] leases   slots in flight: score = when the lease ends (then it counts as answered)
-- KEYS[3] pause    while it exists, nobody sends
-- KEYS[4] queues   hash: process id -> "<expires ms>|<JSON of its queue per client>"
-- ARGV[1] me       this process's id
-- ARGV[2] ttl      ms this process's word lasts unless it says it again
-- ARGV[3] queued   its queue as JSON ({client: [calls, requests]}); empty: nothing queued
-- ARGV[4] limit    the tightest policy's limit (0: none)
-- ARGV[5] window   and its window (ms)
-- Returns {now, counted, in flight, ms until one frees, ms of pause left, {id, JSON, ...}}.

local log_key, leases_key, pause_key, queues_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local me, ttl, queued = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local limit, window = tonumber(ARGV[4]), tonumber(ARGV[5])

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

if queued ~= '' then
  redis.call('HSET', queues_key, me, (now + ttl) .. '|' .. queued)
  if redis.call('PTTL', queues_key) < ttl then redis.call('PEXPIRE', queues_key, ttl) end
else
  redis.call('HDEL', queues_key, me)
end
local others = {}
local entries = redis.call('HGETALL', queues_key)
for i = 1, #entries, 2 do
  local cut = string.find(entries[i + 1], '|', 1, true)
  if tonumber(string.sub(entries[i + 1], 1, cut - 1)) <= now then
    redis.call('HDEL', queues_key, entries[i])
  elseif entries[i] ~= me then
    others[#others + 1] = entries[i]
    others[#others + 1] = string.sub(entries[i + 1], cut + 1)
  end
end

-- A lease that ended counts as answered when it ended (as `acquire` moves it).
local flying = redis.call('ZCOUNT', leases_key, '(' .. now, '+inf')
local counted, frees = flying, 0
if limit > 0 then
  local since = '(' .. (now - window)
  local answered = redis.call('ZCOUNT', log_key, since, '+inf')
  counted = counted + answered + redis.call('ZCOUNT', leases_key, since, now)
  local over = counted - limit + 1
  if over > 0 then
    frees = window
    if over <= answered then
      local entry = redis.call('ZRANGEBYSCORE', log_key, since, '+inf', 'WITHSCORES', 'LIMIT', over - 1, 1)
      frees = math.max(tonumber(entry[2]) + window - now, 0)
    end
  end
end
local paused = math.max(redis.call('PTTL', pause_key), 0)
return {now, counted, flying, frees, paused, others}
