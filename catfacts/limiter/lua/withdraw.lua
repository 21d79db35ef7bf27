-- This process waits for no client any more: others need not leave it a turn.
--
-- KEYS[1] waiting  "process\nclient" -> when that word expires
-- KEYS[2] turns    "process\nclient" -> slots granted (the same client on several processes)
-- ARGV[1] me       this process's id
-- Returns nothing.

local waiting_key, turns_key, prefix = KEYS[1], KEYS[2], ARGV[1] .. '\n'

for _, member in ipairs(redis.call('ZRANGE', waiting_key, 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix then
    redis.call('ZREM', waiting_key, member)
    redis.call('HDEL', turns_key, member)
  end
end
