-- Take a slot when every limit in force has room, or say how long to wait and why.
--
-- KEYS[1] log      slots whose answer came: member = slot id, score = when (ms)
-- KEYS[2] leases   slots in flight: score = when the lease ends (then it counts as answered)
-- KEYS[3] pause    while it exists, nobody sends (a 429, or state that was lost)
-- KEYS[4] rates    hash {text, version}: the rates some process learned, for every process
-- KEYS[5] next     the pace's next send (ms), when the rates have a pace
-- KEYS[6] seq      counts every acquire: a count that went back means the state went back
-- KEYS[7] waiting  fair shares: "process\nclient" -> when that word expires (ms)
-- KEYS[8] served   fair shares: slots granted per client waited for
-- KEYS[9] turns    the same client on several processes: slots granted per "process\nclient"
-- ARGV[1] own      this process's rates (Rates.encode), used while none are shared
-- ARGV[2] assert_own 1: own rates were learned from the upstream, share them if none are
-- ARGV[3] lease    ms a slot in flight may last before it counts as answered
-- ARGV[4] slot     the id of the slot to grant
-- ARGV[5] seen     the last seq this process saw (0: none, or too long ago)
-- ARGV[6] me       this process's id
-- ARGV[7] stay     ms a process's word that it waits for a client lasts
-- ARGV[8...]       the clients this process has work for, in its turn order
-- Returns {granted, slot id or ms to wait, reason or chosen client, seq, version, rates text}.

local log_key, leases_key, pause_key, rates_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local next_key, seq_key, waiting_key, served_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local turns_key = KEYS[9]
local own, assert_own, lease, slot = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3]), ARGV[4]
local seen, me, stay = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local FIRST_CLIENT = 8  -- ARGV[FIRST_CLIENT...]: the clients

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

local shared = redis.call('HMGET', rates_key, 'text', 'version')
local text, version = own, ''
if shared[1] then
  text, version = shared[1], shared[2]
elseif assert_own then
  version = t[1] .. string.format('%06d', t[2])
  redis.call('HSET', rates_key, 'text', text, 'version', version)
end
local policies, longest = {}, 1000
local listed, pace = string.match(text, '^([^|]*)|(.*)$')
for limit, window in string.gmatch(listed, '(%d+):(%d+)') do
  policies[#policies + 1] = {tonumber(limit), tonumber(window)}
  longest = math.max(longest, tonumber(window))
end
pace = tonumber(pace)
local ttl = lease + 2 * longest
if version ~= '' then redis.call('PEXPIRE', rates_key, ttl) end

local seq = redis.call('INCR', seq_key)
redis.call('PEXPIRE', seq_key, ttl)
if seen > 0 and seq <= seen then
  redis.call('SET', pause_key, '1', 'PX', longest)
  return {0, longest, 'lost', seq, version, text}
end

-- Fair shares: who waits, and how much each was served.
local mine = {}
for i = FIRST_CLIENT, #ARGV do mine[ARGV[i]] = true end
redis.call('ZREMRANGEBYSCORE', waiting_key, '-inf', now)
local waiting, least = {}, nil
for _, member in ipairs(redis.call('ZRANGE', waiting_key, 0, -1)) do
  local cut = string.find(member, '\n', 1, true)
  local client = string.sub(member, cut + 1)
  if string.sub(member, 1, cut - 1) == me and not mine[client] then
    redis.call('ZREM', waiting_key, member)
  elseif not waiting[client] then
    local served = tonumber(redis.call('HGET', served_key, client)) or 0
    waiting[client] = served
    if least == nil or served < least then least = served end
  end
end
for i = FIRST_CLIENT, #ARGV do
  local client = ARGV[i]
  if waiting[client] == nil then
    local served = tonumber(redis.call('HGET', served_key, client)) or 0
    if least ~= nil and served < least then
      served = least
      redis.call('HSET', served_key, client, served)
    end
    waiting[client] = served
  end
  if redis.call('ZADD', waiting_key, now + stay, me .. '\n' .. client) == 1 then
    redis.call('HDEL', turns_key, me .. '\n' .. client)  -- a newcomer starts level (below)
  end
end
if #ARGV >= FIRST_CLIENT then
  redis.call('PEXPIRE', waiting_key, stay)
  redis.call('PEXPIRE', served_key, stay + longest)
end
-- Counts only for clients someone waits for: one that comes back starts level with the least
-- served anyway, so `served` stays as small as `waiting`, however many clients came and went.
local counted = 0
for _ in pairs(waiting) do counted = counted + 1 end
if redis.call('HLEN', served_key) > counted then
  for _, client in ipairs(redis.call('HKEYS', served_key)) do
    if waiting[client] == nil then redis.call('HDEL', served_key, client) end
  end
end

local paused = redis.call('PTTL', pause_key)
if paused > 0 then return {0, paused, 'paused', seq, version, text} end

-- A lease that ended counts as answered when it ended; nothing older than the longest window
-- can matter any more.
local ended = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now, 'WITHSCORES')
for i = 1, #ended, 2 do redis.call('ZADD', log_key, 'GT', ended[i + 1], ended[i]) end
redis.call('ZREMRANGEBYSCORE', leases_key, '-inf', now)
redis.call('ZREMRANGEBYSCORE', log_key, '-inf', now - longest)

-- Every policy must have room for one more (`room_wait`, in room.lua).
local flying = redis.call('ZCARD', leases_key)
local wait, step = 0, longest
for _, policy in ipairs(policies) do
  local limit, window = policy[1], policy[2]
  wait = math.max(wait, room_wait(log_key, now, flying, 1, limit, window))
  step = math.min(step, window / limit)
end
if wait > 0 then return {0, wait, 'window', seq, version, text} end
local next_send = tonumber(redis.call('GET', next_key))
if pace and next_send and next_send > now then
  return {0, next_send - now, 'paced', seq, version, text}
end

-- A free slot goes to the caller's first client served least among everyone waiting; if another
-- process's client is further behind, this caller waits a slot's share of a window.
local least_all = nil
for _, served in pairs(waiting) do
  if least_all == nil or served < least_all then least_all = served end
end
local chosen = false
for i = FIRST_CLIENT, #ARGV do
  if waiting[ARGV[i]] <= least_all then chosen = ARGV[i] break end
end
if not chosen and #ARGV >= FIRST_CLIENT then
  if pace then step = math.max(step, 1000 / pace) end
  return {0, math.max(1, math.floor(step)), 'behind', seq, version, text}
end
-- The same client waited for by other processes too: they take turns at it, one slot each,
-- rather than race for it (the pump that asks first would win, and no estimate could say how
-- often). One that comes in starts level; this caller, ahead, waits a millisecond for the other.
if chosen then
  local own, suffix = me .. '\n' .. chosen, '\n' .. chosen
  local mine, rivals = tonumber(redis.call('HGET', turns_key, own)), {}
  for _, member in ipairs(redis.call('ZRANGE', waiting_key, 0, -1)) do
    if member ~= own and string.sub(member, -#suffix) == suffix then
      rivals[#rivals + 1] = tonumber(redis.call('HGET', turns_key, member))
    end
  end
  local low = nil
  for _, taken in pairs(rivals) do
    if low == nil or taken < low then low = taken end
  end
  if mine == nil then mine = low or 0 end
  if low ~= nil and low < mine then return {0, 1, 'behind', seq, version, text} end
  redis.call('HSET', turns_key, own, mine + 1)
  if redis.call('HLEN', turns_key) > redis.call('ZCARD', waiting_key) then
    for _, member in ipairs(redis.call('HKEYS', turns_key)) do
      if member ~= own and not redis.call('ZSCORE', waiting_key, member) then
        redis.call('HDEL', turns_key, member)
      end
    end
  end
  redis.call('PEXPIRE', turns_key, stay + longest)
  redis.call('HINCRBY', served_key, chosen, 1)
  redis.call('PEXPIRE', served_key, stay + longest)
end
if pace then
  local interval = 1000 / pace
  redis.call('SET', next_key, math.max(next_send or now, now) + interval, 'PX', math.ceil(interval) + 1)
end
redis.call('ZADD', leases_key, now + lease, slot)
redis.call('PEXPIRE', leases_key, ttl)  -- past every lease: one that ends is moved, not lost
redis.call('PEXPIRE', log_key, ttl)
return {1, slot, chosen or '', seq, version, text}
