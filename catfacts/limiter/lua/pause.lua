-- Nobody sends for `ms` milliseconds (a 429); only ever lengthens a pause.
--
-- KEYS[1] pause    while it exists, nobody sends
-- ARGV[1] ms       how long the pause must last, from now
-- Returns nothing.

local pause_key, ms = KEYS[1], tonumber(ARGV[1])

if redis.call('PTTL', pause_key) < ms then
  redis.call('SET', pause_key, '1', 'PX', ms)
end
