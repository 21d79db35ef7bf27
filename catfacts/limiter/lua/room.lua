-- Shared by the scripts that need it (prefixed to them when loaded, see `redis.py`): how long
-- until `more` requests fit under one policy of `limit` per `window` ms, beside the `flying`
-- slots in flight and those answered within the window. An answer at a frees its slot at
-- a + window; one in flight, not before now + window. Returns 0 when they fit now.
local function room_wait(log_key, now, flying, more, limit, window)
  local since = '(' .. (now - window)
  local answered = redis.call('ZCOUNT', log_key, since, '+inf')
  local over = flying + answered + more - limit
  if over <= 0 then return 0 end
  if over > answered then return window end
  local entry = redis.call('ZRANGEBYSCORE', log_key, since, '+inf', 'WITHSCORES', 'LIMIT', over - 1, 1)
  return tonumber(entry[2]) + window - now
end

