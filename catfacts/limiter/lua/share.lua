-- Make the rates this process learned everyone's, unless another process changed them since
-- this one last looked (compare and set), so two changes never overwrite each other unseen.
-- Sending the same rates twice changes nothing: a retried call is harmless.
--
-- KEYS[1] rates    hash {text, version}
-- ARGV[1] text     the new rates (Rates.encode)
-- ARGV[2] seen     the version this process last saw ('' for none)
-- ARGV[3] ttl      ms the shared rates last unless used (acquire renews them)
-- Returns {1 if they are now the shared rates, version, text in force}.

local current = redis.call('HMGET', KEYS[1], 'text', 'version')
if current[1] == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return {1, current[2], current[1]}
end
if current[2] and current[2] ~= ARGV[2] then
  return {0, current[2], current[1]}
end
local t = redis.call('TIME')
local version = t[1] .. string.format('%06d', t[2])
redis.call('HSET', KEYS[1], 'text', ARGV[1], 'version', version)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, version, ARGV[1]}
