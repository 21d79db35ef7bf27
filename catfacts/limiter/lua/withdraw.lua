-- This process waits for no client any more: others need not leave it a turn.
--
-- KEYS[1] waiting  "process\nclient" -> when that word expires
-- ARGV[1] me       this process's id

for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, #ARGV[1] + 1) == ARGV[1] .. '\n' then
    redis.call('ZREM', KEYS[1], member)
  end
end
