--[[
Lists: Python's Manager().list(), items of any bytes, with Python's indexes
(docs/PROTOCOL.md 9.32-9.43, 9.76 and 11).

Keys of the list NAME:
  mpx:{NAME}            the object's hash; "version" is the list's version,
                        "splices" the number of LIST_SPLICEs done (for INFO)
  mpx:{NAME}:l          a Redis list of the items (absent when empty)

Every change of the list adds one to its version (LIST_SPLICE compares it).
A new list's version starts at the server's time in microseconds times
1000, so that a list deleted and declared again does not repeat the
versions of the one before (mpxd starts its one clock at a random point).
The version stays decimal text: it is past 2^53, where Lua numbers are not
exact.

Redis lists have no insert or remove at an index: a middle item is reached
with LSET of a placeholder no item before it (or after it) equals, then
LINSERT or LREM of the placeholder, so that no item is copied through Lua;
LIST_SPLICE moves the shorter side of the list through Lua instead.

Lists never wait, so nothing here wakes anyone.
]]

SUBKEYS[T.LIST] = { ':l' }

-- INFO: the number of items and of splices done (mpxd's bytes and other counters are not kept).
INFO[T.LIST] = function(key, meta)
        return { 'size', redis.call('LLEN', key .. ':l'), 'splices', tonumber(meta.splices or 0) }
end

-- Arguments given to one Redis command at a time (Lua's stack is bounded).
local LIST_CHUNK = 1000
-- Items read from the list at a time by SLICE.
local LIST_BATCH = 32

local function list_changed(key)
        redis.call('HINCRBY', key, 'version', 1)
end

-- Python's l[i] rule: the position of index s in a list of len items, or ERANGE.
local function list_pos(len, s)
        local i = int(s)
        if i < 0 then i = i + len end
        if i < 0 or i >= len then fail('ERANGE') end
        return i
end

-- Python's clamping of insert positions and slice bounds: always 0..len.
local function list_clamp(len, s)
        local i = int(s)
        if i < 0 then
                i = i + len
                if i < 0 then i = 0 end
        elseif i > len then
                i = len
        end
        return i
end

-- RPUSH t[i..j] in order.
local function list_rpush(lk, t, i, j)
        while i <= j do
                local e = math.min(j, i + LIST_CHUNK - 1)
                redis.call('RPUSH', lk, unpack(t, i, e))
                i = e + 1
        end
end

-- Put t[i..j] in order before the first item (LPUSH takes its arguments in reverse).
local function list_lpush(lk, t, i, j)
        while j >= i do
                local s = math.max(i, j - LIST_CHUNK + 1)
                local chunk = {}
                for x = j, s, -1 do chunk[#chunk + 1] = t[x] end
                redis.call('LPUSH', lk, unpack(chunk))
                j = s - 1
        end
end

--[[
A placeholder that none of the n items at one end of the list equals: from
the head (rank 1) or from the tail (rank -1). n is at least 1.
]]
local function list_hole(lk, rank, n)
        local attempt = 0
        while true do
                local hole = '\0mpx:hole:' .. attempt
                if not redis.call('LPOS', lk, hole, 'RANK', rank, 'MAXLEN', n) then return hole end
                attempt = attempt + 1
        end
end

-- args: counted (0/1)[, client id, lease_ms]
redis.register_function('mpx_list_declare', function(keys, args)
        local counted = args[1] == '1'
        local created = declare(keys[1], T.LIST, {}, counted, args[2], counted and int(args[3]) or 0)
        if created == 1 then
                local t = redis.call('TIME')
                redis.call('HSET', keys[1], 'version', t[1] .. string.format('%06d', tonumber(t[2])) .. '000')
        end
        return created
end)

-- args: item -> len
redis.register_function('mpx_list_append', function(keys, args)
        object(keys[1], T.LIST)
        local len = redis.call('RPUSH', keys[1] .. ':l', args[1])
        list_changed(keys[1])
        return len
end)

-- args: items... -> len
redis.register_function('mpx_list_extend', function(keys, args)
        object(keys[1], T.LIST)
        list_rpush(keys[1] .. ':l', args, 1, #args)
        list_changed(keys[1])
        return redis.call('LLEN', keys[1] .. ':l')
end)

-- args: index -> item
register_shrinking('mpx_list_get', function(keys, args)
        local lk = keys[1] .. ':l'
        object(keys[1], T.LIST)
        local pos = list_pos(redis.call('LLEN', lk), args[1])
        return redis.call('LINDEX', lk, pos)
end)

-- args: index, item
redis.register_function('mpx_list_set', function(keys, args)
        local lk = keys[1] .. ':l'
        object(keys[1], T.LIST)
        local pos = list_pos(redis.call('LLEN', lk), args[1])
        redis.call('LSET', lk, pos, args[2])
        list_changed(keys[1])
        return 1
end)

-- args: index (clamped), item -> len
redis.register_function('mpx_list_insert', function(keys, args)
        local lk, item = keys[1] .. ':l', args[2]
        object(keys[1], T.LIST)
        local len = redis.call('LLEN', lk)
        local pos = list_clamp(len, args[1])
        if pos == len then
                redis.call('RPUSH', lk, item)
        elseif pos == 0 then
                redis.call('LPUSH', lk, item)
        else
                -- LINSERT finds its pivot from the head: one no item before pos equals.
                local was = redis.call('LINDEX', lk, pos)
                local hole = list_hole(lk, 1, pos)
                redis.call('LSET', lk, pos, hole)
                redis.call('LINSERT', lk, 'BEFORE', hole, item)
                redis.call('LSET', lk, pos + 1, was)
        end
        list_changed(keys[1])
        return len + 1
end)

-- args: index -> the item that was there, removed
register_shrinking('mpx_list_pop', function(keys, args)
        local lk = keys[1] .. ':l'
        object(keys[1], T.LIST)
        local len = redis.call('LLEN', lk)
        local pos = list_pos(len, args[1])
        local item
        if pos == len - 1 then
                item = redis.call('RPOP', lk)
        elseif pos == 0 then
                item = redis.call('LPOP', lk)
        else
                -- LREM takes the first equal item from the nearer end: a hole none there equals.
                item = redis.call('LINDEX', lk, pos)
                local hole
                if pos < len - 1 - pos then
                        hole = list_hole(lk, 1, pos)
                        redis.call('LSET', lk, pos, hole)
                        redis.call('LREM', lk, 1, hole)
                else
                        hole = list_hole(lk, -1, len - 1 - pos)
                        redis.call('LSET', lk, pos, hole)
                        redis.call('LREM', lk, -1, hole)
                end
        end
        list_changed(keys[1])
        return item
end)

-- args: item; the first equal one is removed
register_shrinking('mpx_list_remove', function(keys, args)
        object(keys[1], T.LIST)
        if redis.call('LREM', keys[1] .. ':l', 1, args[1]) == 0 then fail('ENOENT') end
        list_changed(keys[1])
        return 1
end)

-- args: item -> the index of the first equal one
register_shrinking('mpx_list_index', function(keys, args)
        object(keys[1], T.LIST)
        local pos = redis.call('LPOS', keys[1] .. ':l', args[1])
        if not pos then fail('ENOENT') end
        return pos
end)

register_shrinking('mpx_list_len', function(keys, args)
        object(keys[1], T.LIST)
        return redis.call('LLEN', keys[1] .. ':l')
end)

--[[
args: start, stop, flags, limit -> { next, stop, version, items... }.
start and stop are resolved as Python resolves a slice; the items are those
from start on, stopping before the one that would take the reply body (20
bytes, 8 more with SLICE_VERSION, and 4 an item more than their bytes) past
limit, one at least when the slice is not empty. next is the index of the
first item not returned.
]]
register_shrinking('mpx_list_slice', function(keys, args)
        local lk = keys[1] .. ':l'
        local meta = object(keys[1], T.LIST)
        local flags, limit = int(args[3]), int(args[4])
        if flags ~= 0 and flags ~= 1 then fail('EINVAL') end
        local len = redis.call('LLEN', lk)
        local start, stop = list_clamp(len, args[1]), list_clamp(len, args[2])
        if stop < start then stop = start end
        local out = { 0, stop, meta.version or '0' }
        local size, pos, full = 20 + 8 * flags, start, false
        while pos < stop and not full do
                local batch = redis.call('LRANGE', lk, pos, math.min(stop, pos + LIST_BATCH) - 1)
                for _, item in ipairs(batch) do
                        if pos > start and size + 4 + #item > limit then
                                full = true
                                break
                        end
                        out[#out + 1] = item
                        size = size + 4 + #item
                        pos = pos + 1
                end
        end
        out[1] = pos
        return out
end)

-- -> the number of items there were
register_shrinking('mpx_list_clear', function(keys, args)
        object(keys[1], T.LIST)
        local n = redis.call('LLEN', keys[1] .. ':l')
        redis.call('DEL', keys[1] .. ':l')
        list_changed(keys[1])
        return n
end)

--[[
args: start, stop, if_version, items... -> { done, version, len }.
l[start:stop] = items, unless if_version is not 0 and not the version. The
side of the list past the slice that is shorter is read out, cut and pushed
back after the new items.
]]
redis.register_function('mpx_list_splice', function(keys, args)
        local lk = keys[1] .. ':l'
        local meta = object(keys[1], T.LIST)
        local len = redis.call('LLEN', lk)
        if args[3] ~= '0' and args[3] ~= meta.version then
                return { 0, meta.version, len }
        end
        local start, stop = list_clamp(len, args[1]), list_clamp(len, args[2])
        if stop < start then stop = start end
        local n = #args - 3
        if len - stop <= start then
                -- Keep [0, start), then the items, then the tail as it was.
                local tail = {}
                if stop < len then tail = redis.call('LRANGE', lk, stop, -1) end
                if start == 0 then
                        redis.call('DEL', lk)
                else
                        redis.call('LTRIM', lk, 0, start - 1)
                end
                list_rpush(lk, args, 4, #args)
                list_rpush(lk, tail, 1, #tail)
        else
                -- Here stop < len: keep [stop, len), put the items and the head before it.
                local head = {}
                if start > 0 then head = redis.call('LRANGE', lk, 0, start - 1) end
                redis.call('LTRIM', lk, stop, -1)
                list_lpush(lk, args, 4, #args)
                list_lpush(lk, head, 1, #head)
        end
        list_changed(keys[1])
        redis.call('HINCRBY', keys[1], 'splices', 1)
        return { 1, redis.call('HGET', keys[1], 'version'), len - (stop - start) + n }
end)
