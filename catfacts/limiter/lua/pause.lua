-- Nobody sends for ARGV[1] ms (a 429); only ever lengthens a pause.
--
-- KEYS[1] pause
-- ARGV[1] ms

if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
