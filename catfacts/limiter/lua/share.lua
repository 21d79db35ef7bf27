-- Make the rates this process learned everyone's, unless another process changed them since
-- this one last looked (compare and set), so two changes never overwrite each other unseen.
-- Sending the same rates twice changes nothing: a retried call is harmless.
--
-- KEYS[1] rates    hash {text, version}
-- ARGV[1] text     the new rates (Rates.encode)
-- ARGV[2] seen     the version this process last saw ('' for none)
-- ARGV[3] ttl      ms the shared rates last unless used (acquire renews them)
-- Returns {1 if they are now the shared rates (else 0), version, text in force}.

local rates_key, text, seen, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])

local current = redis.call('HMGET', rates_key, 'text', 'version')
if current[1] == text then
  redis.call('PEXPIRE', rates_key, ttl)
  return {1, current[2], current[1]}
end
if current[2] and current[2] ~= seen then
  return {0, current[2], current[1]}
end
local t = redis.call('TIME')
local version = t[1] .. string.format('%06d', t[2])
redis.call('HSET', rates_key, 'text', text, 'version', version)
redis.call('PEXPIRE', rates_key, ttl)
return {1, version, text}
