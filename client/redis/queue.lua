--[[
Queues and joinable queues (client/mpx-redis-queue.c calls these).

Keys of the queue NAME (K = "mpx:{NAME}"):
  K               the hash: type (1 queue, 2 joinable), maxsize, flags, ttr_ms,
                  closed (1 once closed), owner (QUEUE_CONNECTION: the client
                  id that created it), and the counters puts, gets,
                  redelivered, expired, purged (HINCRBY, absent means 0)
  K:items         the list of waiting items, head first. A plain queue keeps
                  the payloads as they are; a joinable queue prefixes each with
                  its delivery count so far (u32, little-endian)
  K:seq           the last delivery tag handed out (INCR: tags start at 1)
  K:dlv           joinable: the deliveries not done, tag -> u32 deliveries,
                  u32 ttr_ms, u8 holder length, holder (client id, "" when
                  detached), payload
  K:att           joinable: the attached deliveries, one member per delivery,
                  "<client id>:<tag in 20 digits>", all of score 0: by lex
                  order a client's deliveries come together, oldest first
  K:det           joinable: the detached deliveries, tag scored by tag
  K:lease         joinable: the deliveries with a lease, tag scored by the
                  time (now_ms) it runs out
  K:getters       the parked requests, "<client id>:<request id>" scored by
  K:putters       when they count no more unless they are tried again (a
  K:joiners       parked call is, at least once a second): what INFO's
                  getters, putters and joiners count

size is LLEN K:items, delivered HLEN K:dlv, unfinished (joinable) their
sum. A lease that ran out is found by the next function of the queue
(q_open), which puts its item back at the head as mpxd's timer would.

Parked requests are woken only by what can let them go on: a put into an
empty queue (getters), a take from a bounded queue (putters), a finish or
purge that leaves nothing unfinished (joiners), items put back, close.
]]

-- The file is one block, so that its locals end with it: the library is one
-- chunk, and a Lua function (a chunk too) has at most 200 locals at a time.
do

local QUEUE_JOINABLE = 1
local QUEUE_CONNECTION = 2
local GET_DETACH = 1
-- The reply frame's bound (WIRE_DEFAULT_MAX_FRAME): GET_MANY fills at most one, PEEK half of one.
local QUEUE_MAX_FRAME = 16777216
-- The bytes of an item in a reply beyond its payload: u64 tag, u32 deliveries, u32 length.
local ITEM_WIRE = 16
-- Arguments unpack() may spread at once (Lua's C stack).
local UNPACK_MAX = 4000

-- How long a parked request counts as waiting after its last try.
local WAIT_WINDOW_MS = 3000

local QUEUE_SUBKEYS = { ':items', ':seq', ':dlv', ':att', ':det', ':lease', ':getters', ':putters', ':joiners' }
SUBKEYS[T.QUEUE] = QUEUE_SUBKEYS
SUBKEYS[T.JOINABLE] = QUEUE_SUBKEYS

-- A tag as the fixed-width text that orders :att members.
local function tag_text(tag)
        return string.format('%020.0f', tag)
end

-- A delivery's record in :dlv, and back.
local function dlv_encode(deliveries, ttr, holder, payload)
        return struct.pack('<I4I4B', deliveries, ttr, #holder) .. holder .. payload
end

local function dlv_decode(v)
        local deliveries, ttr, hl = struct.unpack('<I4I4B', v)
        return deliveries, ttr, string.sub(v, 10, 9 + hl), string.sub(v, 10 + hl)
end

-- A waiting item of a joinable queue in :items, and back.
local function item_encode(deliveries, payload)
        return struct.pack('<I4', deliveries) .. payload
end

local function item_decode(v)
        return struct.unpack('<I4', v), string.sub(v, 5)
end

-- Remove delivery tag (its record v) from :dlv and the indexes.
local function dlv_unlink(key, tag, holder)
        if holder ~= '' then
                redis.call('ZREM', key .. ':att', holder .. ':' .. tag_text(tag))
        else
                redis.call('ZREM', key .. ':det', tag)
        end
        redis.call('ZREM', key .. ':lease', tag)
        redis.call('HDEL', key .. ':dlv', tag)
end

--[[
Put deliveries back at the head of the queue, handed out again later with
their delivery count kept (it grows at the next take). tags is in the order
the items are to end up, first at the head. Returns how many went back.
]]
local function give_back(key, tags)
        local n = 0
        for i = #tags, 1, -1 do
                local tag = tonumber(tags[i])
                local v = redis.call('HGET', key .. ':dlv', tag)
                if v then
                        local deliveries, _, holder, payload = dlv_decode(v)
                        dlv_unlink(key, tag, holder)
                        redis.call('LPUSH', key .. ':items', item_encode(deliveries, payload))
                        n = n + 1
                end
        end
        return n
end

-- Deliveries whose lease ran out go back to the head, the last to run out first.
local function expire(key)
        local due = redis.call('ZRANGE', key .. ':lease', '-inf', now_ms(), 'BYSCORE')
        if #due == 0 then return end
        local back = {}
        for i = #due, 1, -1 do back[#back + 1] = due[i] end
        local n = give_back(key, back)
        redis.call('HINCRBY', key, 'expired', n)
        wake(key)
end

-- The unfinished count of a joinable queue.
local function unfinished(key)
        return redis.call('LLEN', key .. ':items') + redis.call('HLEN', key .. ':dlv')
end

--[[
The queue at key, of one of the types given: object()'s checks, then
leases that ran out. A queue deleted by the reaping (its owner's lease ran
out) is ENOENT.
]]
local function q_open(key, ...)
        local meta = object(key, ...)
        if meta.owner and redis.call('EXISTS', key) == 0 then fail('ENOENT') end
        if meta.type == T.JOINABLE then expire(key) end
        return meta
end

local function q_closed(meta)
        return meta.closed == '1'
end

--[[
Request rid of client cid waits in line (':getters', ':putters',
':joiners'), or no more (wait_out): only for INFO. rid '-1' is a request
that does not wait (timeout 0).
]]
local function wait_in(key, line, cid, rid)
        if rid == '-1' then return end
        local now = now_ms()
        redis.call('ZREMRANGEBYSCORE', key .. line, '-inf', now)
        redis.call('ZADD', key .. line, now + WAIT_WINDOW_MS, cid .. ':' .. rid)
end

local function wait_out(key, line, cid, rid)
        if rid ~= '-1' then redis.call('ZREM', key .. line, cid .. ':' .. rid) end
end

-- The requests waiting in line.
local function waiting(key, line)
        return redis.call('ZCOUNT', key .. line, '(' .. now_ms(), '+inf')
end

--[[
A client is gone: its attached deliveries go back to the head in the order
they were taken; a queue it created with QUEUE_CONNECTION is deleted.
]]
local function q_client_gone(key, meta, cid, died)
        if meta.type == T.JOINABLE then
                local members = redis.call('ZRANGE', key .. ':att', '[' .. cid .. ':', '(' .. cid .. ';', 'BYLEX')
                if #members > 0 then
                        local tags = {}
                        for i, m in ipairs(members) do tags[i] = string.sub(m, #cid + 2) end
                        local n = give_back(key, tags)
                        redis.call('HINCRBY', key, 'redelivered', n)
                        wake(key)
                end
        end
        if meta.owner == cid then destroy(key, meta) end
end

CLIENT_GONE[T.QUEUE] = q_client_gone
CLIENT_GONE[T.JOINABLE] = q_client_gone

-- A counter of the queue's hash, as an integer.
local function counter(meta, name)
        return tonumber(meta[name] or 0) or 0
end

--[[
INFO's fields of a queue. bytes is Redis's estimate of the memory of its
items and deliveries; connection is the client id of a connection's queue's
creator (a str), 0 for none. Waiters are those that tried within
WAIT_WINDOW_MS (a parked request that ended without a word, its client
gone, counts that long). timeouts and idle_ms are not kept.
]]
local function q_info(key, meta)
        local joinable = meta.type == T.JOINABLE
        local size = redis.call('LLEN', key .. ':items')
        local delivered = joinable and redis.call('HLEN', key .. ':dlv') or 0
        local bytes = 0
        for _, k in ipairs({ key .. ':items', key .. ':dlv' }) do
                bytes = bytes + (redis.call('MEMORY', 'USAGE', k) or 0)
        end
        local getters, putters = waiting(key, ':getters'), waiting(key, ':putters')
        local joiners = joinable and waiting(key, ':joiners') or 0
        local lease_ms = -1
        local first = redis.call('ZRANGE', key .. ':lease', 0, 0, 'WITHSCORES')
        if #first > 0 then lease_ms = math.max(0, tonumber(first[2]) - now_ms()) end
        return {
                'size', size,
                'maxsize', math.min(tonumber(meta.maxsize), 2 ^ 53),
                'bytes', bytes,
                'delivered', delivered,
                'unfinished', joinable and size + delivered or 0,
                'closed', meta.closed == '1' and 1 or 0,
                'connection', meta.owner or 0,
                'getters', getters,
                'putters', putters,
                'joiners', joiners,
                'waiters', getters + putters + joiners,
                'puts', counter(meta, 'puts'),
                'gets', counter(meta, 'gets'),
                'redelivered', counter(meta, 'redelivered'),
                'purged', counter(meta, 'purged'),
                'ttr_ms', counter(meta, 'ttr_ms'),
                'expired', counter(meta, 'expired'),
                'lease_ms', lease_ms,
        }
end

INFO[T.QUEUE] = q_info
INFO[T.JOINABLE] = q_info
CATCH_UP[T.JOINABLE] = expire

--[[
The first items of the queue, up to max, as stored, that fit with the bytes
before them in limit bytes of reply (the first always fits): read in chunks,
so that a large max costs no more than the items that fit.
]]
local function head(key, meta, max, need, limit)
        local got, at = {}, 0
        while #got < max do
                local want = math.min(max - #got, 256)
                local chunk = redis.call('LRANGE', key .. ':items', at, at + want - 1)
                for _, v in ipairs(chunk) do
                        local size = #v
                        if meta.type == T.JOINABLE then size = size - 4 end
                        if #got > 0 and need + ITEM_WIRE + size > limit then return got end
                        need = need + ITEM_WIRE + size
                        got[#got + 1] = v
                end
                if #chunk < want then break end
                at = at + want
        end
        return got
end

--[[
Take up to max items from the head (max 1 for GET), as many as fit in one
reply frame (the first always). Returns a flat list tag, deliveries,
payload, ... or nil when the queue is empty. A joinable item becomes a
delivery of lease ttr (or the queue's), held by cid unless detached.
]]
local function take(key, meta, max, flags, ttr, cid, lease)
        local got
        if max == 1 then
                got = { redis.call('LPOP', key .. ':items') }
                if not got[1] then return nil end
        else
                got = head(key, meta, max, 4, QUEUE_MAX_FRAME)
                if #got == 0 then return nil end
                redis.call('LTRIM', key .. ':items', #got, -1)
        end
        local n = #got
        local out = {}
        if meta.type ~= T.JOINABLE then
                for i = 1, n do
                        out[#out + 1] = 0
                        out[#out + 1] = 1
                        out[#out + 1] = got[i]
                end
        else
                local holder = cid
                if bit.band(flags, GET_DETACH) ~= 0 then holder = '' end
                if ttr == 0 then ttr = tonumber(meta.ttr_ms) or 0 end
                local deadline = ttr > 0 and now_ms() + ttr or 0
                local last = redis.call('INCRBY', key .. ':seq', n)
                for i = 1, n do
                        local tag = last - n + i
                        local deliveries, payload = item_decode(got[i])
                        deliveries = deliveries + 1
                        redis.call('HSET', key .. ':dlv', tag, dlv_encode(deliveries, ttr, holder, payload))
                        if holder ~= '' then
                                redis.call('ZADD', key .. ':att', 0, holder .. ':' .. tag_text(tag))
                        else
                                redis.call('ZADD', key .. ':det', tag, tag)
                        end
                        if deadline > 0 then redis.call('ZADD', key .. ':lease', deadline, tag) end
                        out[#out + 1] = tag
                        out[#out + 1] = deliveries
                        out[#out + 1] = payload
                end
                if holder ~= '' then hold(key, cid, lease) end
        end
        redis.call('HINCRBY', key, 'gets', n)
        -- Room was made: parked putters may fit.
        if tonumber(meta.maxsize) > 0 then wake(key) end
        return out
end

--[[
Finish a delivery: tag's (any client's), or with tag 0 client cid's oldest
attached one, else the queue's oldest detached one. ENOENT for a tag not
unfinished, EINVAL when tag 0 finds nothing; nothing is written before.
]]
local function finish(key, tag, cid)
        if tag == 0 then
                local m = redis.call('ZRANGE', key .. ':att', '[' .. cid .. ':', '(' .. cid .. ';', 'BYLEX',
                        'LIMIT', 0, 1)
                if #m > 0 then
                        tag = tonumber(string.sub(m[1], #cid + 2))
                else
                        m = redis.call('ZRANGE', key .. ':det', 0, 0)
                        if #m == 0 then fail('EINVAL') end
                        tag = tonumber(m[1])
                end
        end
        local v = redis.call('HGET', key .. ':dlv', tag)
        if not v then fail('ENOENT') end
        local _, _, holder = dlv_decode(v)
        dlv_unlink(key, tag, holder)
        if unfinished(key) == 0 then wake(key) end
end

-- A u64 tag argument: 0, or a delivery tag (which INCR keeps below 2^53).
local function tag_arg(s)
        local tag = int(s)
        if tag < 0 then fail('EPROTO') end
        return tag
end

-- declare: maxsize, flags, ttr_ms (-1: not given), cid, lease_ms -> created
redis.register_function('mpx_queue_declare', function(keys, args)
        local key, maxsize, flags, ttr = keys[1], args[1], int(args[2]), int(args[3])
        local cid, lease = args[4], int(args[5])
        local joinable = bit.band(flags, QUEUE_JOINABLE) ~= 0
        -- A connection's queue whose creator died is deleted before it is declared again.
        local old = meta_of(key)
        if old ~= nil then reap(key, old) end
        local params = { 'maxsize', maxsize }
        if ttr >= 0 then
                params[3] = 'ttr_ms'
                params[4] = tostring(ttr)
        end
        if meta_of(key) == nil and ttr > 0 and not joinable then fail('EINVAL') end
        local created = declare(key, joinable and T.JOINABLE or T.QUEUE, params,
                bit.band(flags, DECLARE_COUNTED) ~= 0, cid, lease)
        if created == 1 then
                local fields = { 'flags', flags }
                if ttr < 0 then
                        fields[3] = 'ttr_ms'
                        fields[4] = 0
                end
                if bit.band(flags, QUEUE_CONNECTION) ~= 0 then
                        fields[#fields + 1] = 'owner'
                        fields[#fields + 1] = cid
                        hold(key, cid, lease)
                end
                redis.call('HSET', key, unpack(fields))
        end
        return created
end)

-- put (PUT and PUT_MANY): cid, rid, payload... -> 0; EAGAIN while there is no room for all
redis.register_function('mpx_queue_put', function(keys, args)
        local key, cid, rid = keys[1], args[1], args[2]
        local meta = q_open(key, T.QUEUE, T.JOINABLE)
        local n, maxsize = #args - 2, tonumber(meta.maxsize)
        if n == 0 then fail('EINVAL') end
        if q_closed(meta) then
                wait_out(key, ':putters', cid, rid)
                fail('EPIPE')
        end
        if maxsize > 0 and n > maxsize then fail('EINVAL') end
        local size = redis.call('LLEN', key .. ':items')
        if maxsize > 0 and size + n > maxsize then
                wait_in(key, ':putters', cid, rid)
                fail('EAGAIN')
        end
        wait_out(key, ':putters', cid, rid)
        local items = {}
        for i = 1, n do
                items[i] = meta.type == T.JOINABLE and item_encode(0, args[i + 2]) or args[i + 2]
        end
        for i = 1, n, UNPACK_MAX do
                redis.call('RPUSH', key .. ':items', unpack(items, i, math.min(n, i + UNPACK_MAX - 1)))
        end
        redis.call('HINCRBY', key, 'puts', n)
        -- Getters wait only while the queue is empty.
        if size == 0 then wake(key) end
        return 0
end)

--[[
What a get that found the queue empty does: EPIPE once it is closed, else
it waits (EAGAIN, or ret when given).
]]
local function get_none(key, meta, cid, rid, ret)
        if q_closed(meta) then
                wait_out(key, ':getters', cid, rid)
                fail('EPIPE')
        end
        wait_in(key, ':getters', cid, rid)
        if ret ~= nil then return ret end
        fail('EAGAIN')
end

-- get (GET and GET_MANY): cid, rid, flags, max, ttr_ms, lease_ms -> tag, deliveries, payload, ...
redis.register_function('mpx_queue_get', function(keys, args)
        local key, cid, rid = keys[1], args[1], args[2]
        local flags, max, ttr, lease = int(args[3]), int(args[4]), int(args[5]), int(args[6])
        local meta = q_open(key, T.QUEUE, T.JOINABLE)
        if bit.band(flags, bit.bnot(GET_DETACH)) ~= 0 or max == 0 then fail('EINVAL') end
        if ttr ~= 0 and meta.type ~= T.JOINABLE then fail('EINVAL') end
        local out = take(key, meta, max, flags, ttr, cid, lease)
        if not out then return get_none(key, meta, cid, rid) end
        wait_out(key, ':getters', cid, rid)
        return out
end)

--[[
done_get: cid, rid, finish (1, or 0 once done by an earlier call), tag,
flags, ttr_ms, lease_ms -> tag, deliveries, payload. When it finished and
must wait, it answers 0 rather than EAGAIN: the caller parks the call with
finish 0, so that its retries do not finish again.
]]
redis.register_function('mpx_queue_done_get', function(keys, args)
        local key, cid, rid = keys[1], args[1], args[2]
        local finishing, tag, flags, ttr = args[3] == '1', tag_arg(args[4]), int(args[5]), int(args[6])
        local lease = int(args[7])
        local meta = q_open(key, T.JOINABLE)
        if bit.band(flags, bit.bnot(GET_DETACH)) ~= 0 then fail('EINVAL') end
        if finishing then finish(key, tag, cid) end
        local out = take(key, meta, 1, flags, ttr, cid, lease)
        if not out then return get_none(key, meta, cid, rid, finishing and 0 or nil) end
        wait_out(key, ':getters', cid, rid)
        return out
end)

-- Fail with code (EMSGSIZE for a payload over the limit) once the queue is found.
redis.register_function('mpx_queue_refuse', function(keys, args)
        q_open(keys[1], T.QUEUE, T.JOINABLE)
        fail(args[1])
end)

-- qsize: -> size, maxsize, unfinished, closed
redis.register_function('mpx_queue_qsize', function(keys, args)
        local key = keys[1]
        local meta = q_open(key, T.QUEUE, T.JOINABLE)
        local size = redis.call('LLEN', key .. ':items')
        local pending = 0
        if meta.type == T.JOINABLE then pending = size + redis.call('HLEN', key .. ':dlv') end
        return { size, meta.maxsize, pending, q_closed(meta) and 1 or 0 }
end)

-- close: puts fail from now on, getters once the queue is empty.
redis.register_function('mpx_queue_close', function(keys, args)
        local key = keys[1]
        local meta = q_open(key, T.QUEUE, T.JOINABLE)
        if not q_closed(meta) then
                redis.call('HSET', key, 'closed', 1)
                wake(key)
        end
        return 0
end)

-- purge: -> the number of waiting items dropped; deliveries stay.
redis.register_function('mpx_queue_purge', function(keys, args)
        local key = keys[1]
        q_open(key, T.QUEUE, T.JOINABLE)
        local n = redis.call('LLEN', key .. ':items')
        if n > 0 then
                redis.call('DEL', key .. ':items')
                redis.call('HINCRBY', key, 'purged', n)
                wake(key)
        end
        return n
end)

-- task_done: tag (0: the oldest of cid's, else the oldest detached), cid
redis.register_function('mpx_queue_task_done', function(keys, args)
        local key, tag = keys[1], tag_arg(args[1])
        q_open(key, T.JOINABLE)
        finish(key, tag, args[2])
        return 0
end)

-- join: cid, rid -> 0 when nothing is unfinished, else EAGAIN
redis.register_function('mpx_queue_join', function(keys, args)
        local key, cid, rid = keys[1], args[1], args[2]
        q_open(key, T.JOINABLE)
        if unfinished(key) > 0 then
                wait_in(key, ':joiners', cid, rid)
                fail('EAGAIN')
        end
        wait_out(key, ':joiners', cid, rid)
        return 0
end)

-- unwait: line, cid, rid. A parked request ended (timeout, cancel): it waits no more.
redis.register_function('mpx_queue_unwait', function(keys, args)
        local line = args[1]
        if line ~= ':getters' and line ~= ':putters' and line ~= ':joiners' then fail('EPROTO') end
        wait_out(keys[1], line, args[2], args[3])
        return 0
end)

-- touch: tag. Restarts the delivery's lease, if it has one.
redis.register_function('mpx_queue_touch', function(keys, args)
        local key, tag = keys[1], tag_arg(args[1])
        q_open(key, T.JOINABLE)
        local v = redis.call('HGET', key .. ':dlv', tag)
        if not v then fail('ENOENT') end
        local _, ttr = dlv_decode(v)
        if ttr > 0 then redis.call('ZADD', key .. ':lease', now_ms() + ttr, tag) end
        return 0
end)

--[[
peek: max -> 0, deliveries, payload, ... for the first items, left in
place; up to half a frame, the head item always.
]]
redis.register_function('mpx_queue_peek', function(keys, args)
        local key, max = keys[1], int(args[1])
        local meta = q_open(key, T.QUEUE, T.JOINABLE)
        local out = {}
        for _, v in ipairs(head(key, meta, max, 4, QUEUE_MAX_FRAME / 2)) do
                local deliveries, payload = 0, v
                if meta.type == T.JOINABLE then deliveries, payload = item_decode(v) end
                out[#out + 1] = 0
                out[#out + 1] = deliveries
                out[#out + 1] = payload
        end
        return out
end)

end -- of the queue's block
