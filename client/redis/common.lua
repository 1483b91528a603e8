#!lua name=mpx
--[[
The mpx function library: mpx's objects over Redis. libmpx's Redis backend
(client/mpx-redis*.c) turns each request of the wire protocol into one FCALL
of a function here, so that every step is atomic and runs on one hash slot.

This file comes first; each type's file (object.lua, queue.lua, ...) follows
it in one chunk, uses the helpers below and fills the hook tables.

Conventions:
  - KEYS[1] is the object's own hash "mpx:{NAME}"; its other keys are
    KEYS[1] .. suffix. The hash holds "type" (the wire type number) and the
    type's parameters.
  - A failure is an error reply whose first word is the status's errno name
    ("ENOENT", "EAGAIN", ...): fail(). Redis does not roll a function back,
    so a function checks everything it can fail on before its first write.
  - "EAGAIN" means "would block": the backend parks the request and calls the
    function again after the next wake() of the object (or once a second).
  - Integers cross as decimal text, bytes as they are.
]]

local MPX_VERSION = '@LIBRARY_VERSION@'

local T = {
        QUEUE = 1, JOINABLE = 2, DICT = 3, LIST = 4, SEMAPHORE = 5,
        EVENT = 6, BARRIER = 7, VALUE = 8, ARRAY = 9,
}

-- Declare flags, as the wire spells them.
local DECLARE_DURABLE = 2147483648
local DECLARE_COUNTED = 1073741824

-- Hooks each type's file fills, by type number.
local SUBKEYS = {}              -- { ':items', ... }: the object's other keys, deleted with it
local CLIENT_GONE = {}          -- function(key, meta, cid, died): give back what client cid held
local INFO = {}                 -- function(key, meta): { 'size', n, field, value, ... } for INFO and LIST
local CATCH_UP = {}             -- function(key, meta): what time did to the object (leases that ran out), before INFO

-- Fail the call with an mpx status; nothing after it runs.
local function fail(code)
        error({ err = code })
end

-- Server time in milliseconds, the clock every lease is measured by.
local function now_ms()
        local t = redis.call('TIME')
        return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Tell the object's parked requests to try again.
local function wake(key)
        redis.call('SPUBLISH', key .. ':wake', '1')
end

-- An integer argument (decimal text).
local function int(s)
        local v = tonumber(s)
        if v == nil then fail('EPROTO') end
        return v
end

-- The object's hash as a table, its type a number; nil if there is none.
local function meta_of(key)
        local flat = redis.call('HGETALL', key)
        if #flat == 0 then return nil end
        local meta = {}
        for i = 1, #flat, 2 do meta[flat[i]] = flat[i + 1] end
        meta.type = tonumber(meta.type)
        return meta
end

-- Delete the object and all its keys; its parked requests find it gone.
local function destroy(key, meta)
        local keys = { key, key .. ':holders', key .. ':refs', key .. ':transit', key .. ':reftoken' }
        for _, suffix in ipairs(SUBKEYS[meta.type] or {}) do
                keys[#keys + 1] = key .. suffix
        end
        redis.call('DEL', unpack(keys))
        wake(key)
end

-- Drop the references client cid holds on a counted object.
local function drop_refs(key, cid)
        local flat = redis.call('HGETALL', key .. ':refs')
        for i = 1, #flat, 2 do
                if flat[i + 1] == 'c:' .. cid or flat[i + 1] == 'r:' .. cid then
                        redis.call('HDEL', key .. ':refs', flat[i])
                end
        end
end

-- A counted object without references is deleted: true if it was.
local function unreferenced(key, meta)
        if meta.counted == '1' and redis.call('HLEN', key .. ':refs') == 0 then
                destroy(key, meta)
                return true
        end
        return false
end

-- Client cid is gone (died: its lease ran out): give back what it held, drop its references.
local function client_gone(key, meta, cid, died)
        local hook = CLIENT_GONE[meta.type]
        if hook then hook(key, meta, cid, died) end
        redis.call('ZREM', key .. ':holders', cid)
        if meta.counted == '1' then drop_refs(key, cid) end
end

--[[
Deal with what ran out: holders whose lease ended (clients that died) and
references in transit nobody took over. true if the object is gone with them,
'changed' if it lives on changed, false if nothing ran out.
]]
local function reap(key, meta)
        local now = now_ms()
        local gone = redis.call('ZRANGE', key .. ':holders', '-inf', '(' .. now, 'BYSCORE')
        for _, cid in ipairs(gone) do
                client_gone(key, meta, cid, true)
        end
        -- A hook may have deleted the object (a queue that went with its connection).
        if redis.call('EXISTS', key) == 0 then return true end
        if meta.counted ~= '1' then return #gone > 0 and 'changed' or false end
        local expired = redis.call('ZRANGE', key .. ':transit', '-inf', '(' .. now, 'BYSCORE')
        for _, token in ipairs(expired) do
                redis.call('HDEL', key .. ':refs', token)
                redis.call('ZREM', key .. ':transit', token)
        end
        if #gone + #expired == 0 then return #gone > 0 and 'changed' or false end
        return unreferenced(key, meta) or 'changed'
end

--[[
The object at key, checked to be of one of the types given (any when none
are): ENOENT when there is none, EPROTOTYPE when it is of another type.
Holders whose lease ended are dealt with first.
]]
local function object(key, ...)
        local meta = meta_of(key)
        if meta == nil then fail('ENOENT') end
        local types = { ... }
        if #types > 0 then
                local ok = false
                for _, t in ipairs(types) do
                        if meta.type == t then ok = true end
                end
                if not ok then fail('EPROTOTYPE') end
        end
        local changed = reap(key, meta)
        if changed == true then fail('ENOENT') end
        -- What the dead held was given back: the hash may say otherwise now.
        if changed == 'changed' then return meta_of(key) end
        return meta
end

-- Client cid holds something in the object until its lease (renewed by its connection) ends.
local function hold(key, cid, lease_ms)
        redis.call('ZADD', key .. ':holders', now_ms() + lease_ms, cid)
end

--[[
A counted object's new reference, held by client cid: its token. A reference
whose token REF handed out is marked 'r:' (given = true), so that an UNREF of
"one of the client's own" (token 0) takes it only when the client has no
other: its UNREF by token would then find it gone, and the object would
outlive its last handle.
]]
local function take_ref(key, cid, lease_ms, given)
        local token = redis.call('INCR', key .. ':reftoken')
        redis.call('HSET', key .. ':refs', token, (given and 'r:' or 'c:') .. cid)
        hold(key, cid, lease_ms)
        return token
end

--[[
Create the object unless it exists: params is a list of field, value pairs
(strings) it must match when it does. Returns 1 if created here, 0 if it
existed as asked; EPROTOTYPE for another type, EEXIST for other parameters.
A counted declare (counted: true, 1 or '1') gives client cid a reference,
as the creator's first or one more, on an object that is counted.
]]
local function declare(key, type, params, counted, cid, lease_ms)
        counted = counted == true or counted == 1 or counted == '1'
        local meta = meta_of(key)
        if meta ~= nil then
                local changed = reap(key, meta)
                if changed == true then meta = nil elseif changed then meta = meta_of(key) end
        end
        if meta ~= nil then
                if meta.type ~= type then fail('EPROTOTYPE') end
                for i = 1, #params, 2 do
                        if meta[params[i]] ~= tostring(params[i + 1]) then fail('EEXIST') end
                end
                if counted and meta.counted == '1' then take_ref(key, cid, lease_ms) end
                return 0
        end
        local fields = { 'type', type, 'counted', counted and 1 or 0, 'created', now_ms() }
        for _, v in ipairs(params) do fields[#fields + 1] = v end
        redis.call('HSET', key, unpack(fields))
        if counted then take_ref(key, cid, lease_ms) end
        return 1
end

--[[
Register a function that never makes an object hold more, with the flag that
lets it run while Redis is at its maxmemory (other functions are refused
with OOM, which libmpx reports as ENOSPC): as in mpxd, reading, removing and
giving back go on when the memory limit is reached.
]]
local function register_shrinking(name, fn)
        redis.register_function { function_name = name, callback = fn, flags = { 'allow-oom' } }
end

redis.register_function('mpx_version', function(keys, args)
        return MPX_VERSION
end)
