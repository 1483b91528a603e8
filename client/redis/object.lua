--[[
object.lua: what every object has: INFO, LIST, DELETE, references of
counted objects (REF, UNREF), and the leases of holders (renewed by their
connection, given back at a clean disconnect). PING is here too.
]]

-- INFO's fields: the type's own (size first), then age_ms, then a counted object's references.
local function info_of(key, meta)
        local out = { meta.type }
        local hook = INFO[meta.type]
        local fields = hook and hook(key, meta) or { 'size', 0 }
        for _, v in ipairs(fields) do out[#out + 1] = v end
        out[#out + 1] = 'age_ms'
        out[#out + 1] = now_ms() - tonumber(meta.created or now_ms())
        out[#out + 1] = 'durable'
        out[#out + 1] = 0
        if meta.counted == '1' then
                out[#out + 1] = 'refs'
                out[#out + 1] = redis.call('HLEN', key .. ':refs')
                out[#out + 1] = 'refs_in_transit'
                out[#out + 1] = redis.call('ZCARD', key .. ':transit')
        end
        return out
end

redis.register_function('mpx_ping', function(keys, args)
        return args[1]
end)

redis.register_function('mpx_info', function(keys, args)
        local meta = object(keys[1])
        -- What mpxd's timers would have done by now shows, as it does there (LIST only reads).
        local catch_up = CATCH_UP[meta.type]
        if catch_up then
                catch_up(keys[1], meta)
                meta = meta_of(keys[1])
        end
        return info_of(keys[1], meta)
end)

--[[
One page of the objects this node holds: args cursor, count, type (0 any).
Returns { next_cursor, name, info, name, info, ... }; a page may be short
(SCAN's), the listing ends when next_cursor is 0.
]]
redis.register_function {
        function_name = 'mpx_list',
        callback = function(keys, args)
                local want = int(args[3])
                local res = redis.call('SCAN', args[1], 'MATCH', 'mpx:{*}', 'COUNT', args[2], 'TYPE', 'hash')
                local out = { res[1] }
                for _, key in ipairs(res[2]) do
                        local meta = meta_of(key)
                        if meta ~= nil and meta.type ~= nil and (want == 0 or meta.type == want) then
                                out[#out + 1] = string.sub(key, 6, -2)
                                out[#out + 1] = info_of(key, meta)
                        end
                end
                return out
        end,
        flags = { 'allow-cross-slot-keys', 'no-writes' },
}

register_shrinking('mpx_delete', function(keys, args)
        destroy(keys[1], object(keys[1]))
        return 1
end)

-- REF: args cid, lease_ms (0: held by the client, else in transit), the client's lease.
redis.register_function('mpx_ref', function(keys, args)
        local key = keys[1]
        local meta = object(key)
        local lease = int(args[2])
        if meta.counted ~= '1' or lease < 0 or lease > 86400000 then fail('EINVAL') end
        if lease == 0 then return take_ref(key, args[1], int(args[3]), true) end
        local token = redis.call('INCR', key .. ':reftoken')
        redis.call('HSET', key .. ':refs', token, 't')
        redis.call('ZADD', key .. ':transit', now_ms() + lease, token)
        return token
end)

-- UNREF: args cid, token (0: one of the client's own). Returns 1 if the object is deleted with it.
register_shrinking('mpx_unref', function(keys, args)
        local key = keys[1]
        local meta = object(key)
        local token = args[2]
        if meta.counted ~= '1' then fail('EINVAL') end
        if token == '0' then
                -- One never handed out; failing that, one whose token REF gave.
                local flat, given = redis.call('HGETALL', key .. ':refs'), nil
                token = nil
                for i = 1, #flat, 2 do
                        if flat[i + 1] == 'c:' .. args[1] then
                                token = flat[i]
                        elseif given == nil and flat[i + 1] == 'r:' .. args[1] then
                                given = flat[i]
                        end
                end
                token = token or given
                if token == nil then fail('ENOENT') end
        elseif redis.call('HEXISTS', key .. ':refs', token) == 0 then
                fail('ENOENT')
        end
        redis.call('HDEL', key .. ':refs', token)
        redis.call('ZREM', key .. ':transit', token)
        return unreferenced(key, meta) and 1 or 0
end)

-- The client's lease on what it holds here, renewed: 1, or 0 if it holds nothing here.
register_shrinking('mpx_renew', function(keys, args)
        if redis.call('ZSCORE', keys[1] .. ':holders', args[1]) == false then return 0 end
        redis.call('ZADD', keys[1] .. ':holders', now_ms() + int(args[2]), args[1])
        return 1
end)

-- A clean disconnect: give back at once what the client held.
register_shrinking('mpx_client_gone', function(keys, args)
        local key = keys[1]
        local meta = meta_of(key)
        if meta == nil then return 0 end
        client_gone(key, meta, args[1], false)
        unreferenced(key, meta)
        return 1
end)
