--[[
Dicts: Python's Manager().dict(), keys and values of any bytes, in
insertion order (docs/PROTOCOL.md 9.19-9.31, 9.75 and 11).

Keys of the dict NAME:
  mpx:{NAME}            the object's hash; "serial" is the last serial given
  mpx:{NAME}:h          hash: key -> value
  mpx:{NAME}:o          sorted set: key -> its serial (the insertion order)

A Redis hash has no order, so every key also takes a serial, the next one of
its dict, when it is inserted; an overwritten value keeps its serial, a key
removed and stored again takes a new one. Serials only grow, so the sorted
set is the insertion order, its highest score the key inserted last
(POPITEM), and a DICT_ITEMS cursor is the serial of the last key a page
returned: the next page starts at the first larger serial, whether or not
that key still exists, as in mpxd. Serials are scores (doubles): exact up to
2^53 insertions in one dict.

Dicts never wait, so nothing here wakes anyone.
]]

SUBKEYS[T.DICT] = { ':h', ':o' }

-- INFO: the number of keys (mpxd's bytes and counters are not kept).
INFO[T.DICT] = function(key, meta)
        return { 'size', redis.call('HLEN', key .. ':h') }
end

-- Most entries in one DICT_ITEMS page, and keys read from the order at a time.
local DICT_PAGE_MAX = 1000
local DICT_BATCH = 32

-- d[k] = v: a new key goes to the end of the order, a present one keeps its place.
local function dict_store(key, k, v)
        if redis.call('HSET', key .. ':h', k, v) == 1 then
                local serial = redis.call('HINCRBY', key, 'serial', 1)
                redis.call('ZADD', key .. ':o', serial, k)
        end
end

local function dict_remove(key, k)
        redis.call('HDEL', key .. ':h', k)
        redis.call('ZREM', key .. ':o', k)
end

--[[
The value stored under k as DICT_INCR reads it (11.3): an optional '-' and
one or more digits, leading zeros allowed. Returns its canonical text (no
leading zeros, "0" for "-0"); EINVAL when it is not of that form, ERANGE
when it does not fit in an i64.
]]
local function dict_int_text(v)
        local sign, digits = string.match(v, '^(%-?)(%d+)$')
        if not digits then fail('EINVAL') end
        digits = string.gsub(digits, '^0+', '')
        if digits == '' then return '0' end
        local limit = sign == '-' and '9223372036854775808' or '9223372036854775807'
        -- Same length: decimal text compares as the numbers do.
        if #digits > 19 or (#digits == 19 and digits > limit) then fail('ERANGE') end
        return sign .. digits
end

-- args: counted (0/1)[, client id, lease_ms]
redis.register_function('mpx_dict_declare', function(keys, args)
        local counted = args[1] == '1'
        return declare(keys[1], T.DICT, {}, counted, args[2], counted and int(args[3]) or 0)
end)

-- args: key, value
redis.register_function('mpx_dict_set', function(keys, args)
        object(keys[1], T.DICT)
        dict_store(keys[1], args[1], args[2])
        return 1
end)

-- args: key -> value
register_shrinking('mpx_dict_get', function(keys, args)
        object(keys[1], T.DICT)
        local v = redis.call('HGET', keys[1] .. ':h', args[1])
        if not v then fail('ENOENT') end
        return v
end)

-- args: key
register_shrinking('mpx_dict_del', function(keys, args)
        object(keys[1], T.DICT)
        if redis.call('HDEL', keys[1] .. ':h', args[1]) == 0 then fail('ENOENT') end
        redis.call('ZREM', keys[1] .. ':o', args[1])
        return 1
end)

-- args: key -> 0/1
register_shrinking('mpx_dict_contains', function(keys, args)
        object(keys[1], T.DICT)
        return redis.call('HEXISTS', keys[1] .. ':h', args[1])
end)

register_shrinking('mpx_dict_len', function(keys, args)
        object(keys[1], T.DICT)
        return redis.call('HLEN', keys[1] .. ':h')
end)

--[[
args: cursor, max, what, limit -> { next_cursor, entries... }, each entry
the key and/or the value as what says. A page ends after max entries or
before the entry that would take the reply body (next_cursor, n and the
entries, 12 bytes and 4 a field more than their bytes) past limit; it holds
one entry at least whenever one is left. next_cursor is the serial of the
last entry returned when more are left, else 0. Keys are read from the
order a few at a time and values only for the entries returned, so that a
page of a dict of large values costs no more than the page.
]]
register_shrinking('mpx_dict_items', function(keys, args)
        local key = keys[1]
        object(key, T.DICT)
        local max, what, limit = int(args[2]), int(args[3]), int(args[4])
        if what < 1 or what > 3 then fail('EINVAL') end
        if max == 0 or max > DICT_PAGE_MAX then max = DICT_PAGE_MAX end
        local want_keys, want_values = what ~= 2, what ~= 1
        local out, n, size, last, from = { '0' }, 0, 12, nil, '(' .. args[1]
        while true do
                local batch = redis.call('ZRANGE', key .. ':o', from, '+inf', 'BYSCORE',
                                         'LIMIT', 0, DICT_BATCH, 'WITHSCORES')
                if #batch == 0 then return out end
                for i = 1, #batch, 2 do
                        local k = batch[i]
                        local more = 0
                        if want_keys then more = more + 4 + #k end
                        if want_values then more = more + 4 + redis.call('HSTRLEN', key .. ':h', k) end
                        if n == max or (n > 0 and size + more > limit) then
                                out[1] = last
                                return out
                        end
                        if want_keys then out[#out + 1] = k end
                        if want_values then out[#out + 1] = redis.call('HGET', key .. ':h', k) end
                        size = size + more
                        n = n + 1
                        last = batch[i + 1]
                end
                from = '(' .. last
        end
end)

-- args: key -> value, removed
register_shrinking('mpx_dict_pop', function(keys, args)
        object(keys[1], T.DICT)
        local v = redis.call('HGET', keys[1] .. ':h', args[1])
        if not v then fail('ENOENT') end
        dict_remove(keys[1], args[1])
        return v
end)

-- -> { key, value }: the key inserted last, removed
register_shrinking('mpx_dict_popitem', function(keys, args)
        object(keys[1], T.DICT)
        local last = redis.call('ZRANGE', keys[1] .. ':o', -1, -1)
        if #last == 0 then fail('ENOENT') end
        local k = last[1]
        local v = redis.call('HGET', keys[1] .. ':h', k)
        dict_remove(keys[1], k)
        return { k, v }
end)

-- args: key, default -> the value stored once done
redis.register_function('mpx_dict_setdefault', function(keys, args)
        object(keys[1], T.DICT)
        local v = redis.call('HGET', keys[1] .. ':h', args[1])
        if v then return v end
        dict_store(keys[1], args[1], args[2])
        return args[2]
end)

-- args: key, value, key, value ... (all stored, in order)
redis.register_function('mpx_dict_update', function(keys, args)
        object(keys[1], T.DICT)
        for i = 1, #args - 1, 2 do
                dict_store(keys[1], args[i], args[i + 1])
        end
        return 1
end)

-- -> the number of keys there were. Serials go on growing: a cursor of before stays past them.
register_shrinking('mpx_dict_clear', function(keys, args)
        object(keys[1], T.DICT)
        local n = redis.call('HLEN', keys[1] .. ':h')
        redis.call('DEL', keys[1] .. ':h', keys[1] .. ':o')
        return n
end)

--[[
args: key, delta (decimal text) -> the sum, as decimal text. HINCRBY does
the 64-bit arithmetic and its overflow check; it reads only canonical text,
so a value such as "007" is stored canonical first and put back as it was
when the sum overflows: nothing changes on a failure.
]]
redis.register_function('mpx_dict_incr', function(keys, args)
        local h, k = keys[1] .. ':h', args[1]
        object(keys[1], T.DICT)
        local v = redis.call('HGET', h, k)
        if v then
                local canonical = dict_int_text(v)
                if canonical ~= v then redis.call('HSET', h, k, canonical) end
                local r = redis.pcall('HINCRBY', h, k, args[2])
                if type(r) == 'table' and r.err then
                        if canonical ~= v then redis.call('HSET', h, k, v) end
                        fail('ERANGE')
                end
        else
                redis.call('HINCRBY', h, k, args[2])
                local serial = redis.call('HINCRBY', keys[1], 'serial', 1)
                redis.call('ZADD', keys[1] .. ':o', serial, k)
        end
        -- The text, not HINCRBY's answer: a Lua number is not exact past 2^53.
        return redis.call('HGET', h, k)
end)

--[[
args: key, expect_present, expected, set_present, new
-> { swapped, present, current } (9.31).
]]
redis.register_function('mpx_dict_cas', function(keys, args)
        local h, k = keys[1] .. ':h', args[1]
        object(keys[1], T.DICT)
        local expect, set = args[2], args[4]
        if (expect ~= '0' and expect ~= '1') or (set ~= '0' and set ~= '1') then fail('EINVAL') end
        local v = redis.call('HGET', h, k)
        local match
        if expect == '1' then match = v == args[3] else match = not v end
        if not match then
                if v then return { 0, 1, v } end
                return { 0, 0, '' }
        end
        if set == '1' then
                dict_store(keys[1], k, args[5])
                return { 1, 1, args[5] }
        end
        if v then dict_remove(keys[1], k) end
        return { 1, 0, '' }
end)
