-- This process waits for no client any more: others need not leave it a turn.
--
-- KEYS[1] waiting  "process\nclient" -> when that word expires
-- ARGV[1] me       this process's id
-- Returns nothing.

local waiting_key, prefix = KEYS[1], ARGV[1] .. '\n'

for _, member in ipairs(redis.call('ZRANGE', waiting_key, 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix then
    redis.call('ZREM', waiting_key, member)
  end
end
