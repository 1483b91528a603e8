--[[
array: typed shared values and arrays (Python's Value() and Array()).

The object's hash "mpx:{NAME}" (type VALUE or ARRAY) holds "typecode" (the
ASCII type code) and "length" (elements); "adds" and "sets" count the
changes. The elements are "mpx:{NAME}:data", one string of length x size
bytes, each element in the host's byte order (little-endian) exactly as the
wire carries it: GET and SET are GETRANGE and SETRANGE, ADD and CAS read and
write one element here, atomically since a function runs alone.
]]

SUBKEYS[T.VALUE] = { ':data' }
SUBKEYS[T.ARRAY] = { ':data' }

-- Element sizes, and how ADD treats each type code: 'u' wraps as an unsigned integer, 'f' float, 'd' double.
local ELEM = {
        b = 1, B = 1, h = 2, H = 2, i = 4, I = 4, l = 8, L = 8, q = 8, Q = 8, f = 4, d = 8, c = 1,
}
local ARRAY_MAX_BYTES = 512 * 1024 * 1024       -- the largest string Redis stores
local MAX_MESSAGE = 4 * 1024 * 1024             -- the largest run of elements one request reads or writes

-- The array at key, checked to hold elements of typecode tc: its meta and element size.
local function array_as(key, tc)
        local meta = object(key, T.VALUE, T.ARRAY)
        if meta.typecode ~= tc then fail('EPROTOTYPE') end
        return meta, ELEM[tc]
end

-- The first element of a run of count from index (negative: from the end), 0-based; ERANGE outside.
local function array_range(meta, index, count)
        local length = int(meta.length)
        if index < 0 then
                if index < -length then fail('ERANGE') end
                index = index + length
        end
        if index > length or count > length - index then fail('ERANGE') end
        return index
end

-- The decimal text of the 64-bit integer whose 32-bit halves are hi and lo (unsigned), exact.
local function u64_text(hi, lo)
        -- Limbs of 10^7, least significant first: hi * 2^32 + lo.
        local limbs = { hi }
        local function mul_add(m, a)
                local carry = a
                for i = 1, #limbs do
                        local x = limbs[i] * m + carry
                        limbs[i] = x % 1e7
                        carry = math.floor(x / 1e7)
                end
                while carry > 0 do
                        limbs[#limbs + 1] = carry % 1e7
                        carry = math.floor(carry / 1e7)
                end
        end
        mul_add(1, 0)
        mul_add(65536, 0)
        mul_add(65536, lo)
        local out = string.format('%d', limbs[#limbs])
        for i = #limbs - 1, 1, -1 do out = out .. string.format('%07d', limbs[i]) end
        return out
end

-- An element as INFO shows a value: as mpxd prints it.
local function elem_text(tc, e)
        if tc == 'f' or tc == 'd' then return string.format('%.17g', struct.unpack('<' .. tc, e)) end
        if tc == 'c' then
                local b = string.byte(e)
                if b >= 32 and b < 127 then return e end
                return string.format('\\x%02x', b)
        end
        local size = ELEM[tc]
        local signed = tc == 'b' or tc == 'h' or tc == 'i' or tc == 'l' or tc == 'q'
        if size <= 4 then
                return string.format('%.0f', struct.unpack((signed and '<i' or '<I') .. size, e))
        end
        local lo, hi = struct.unpack('<I4I4', e)
        if signed and hi >= 2 ^ 31 then
                -- Two's complement: the magnitude is ~x + 1.
                lo, hi = 2 ^ 32 - 1 - lo, 2 ^ 32 - 1 - hi
                lo = lo + 1
                if lo == 2 ^ 32 then lo, hi = 0, hi + 1 end
                return '-' .. u64_text(hi, lo)
        end
        return u64_text(hi, lo)
end

local function array_info(key, meta)
        local size, length = ELEM[meta.typecode], tonumber(meta.length)
        local out = { 'size', length, 'length', length, 'typecode', meta.typecode, 'itemsize', size,
                      'bytes', length * size, 'sets', tonumber(meta.sets), 'adds', tonumber(meta.adds) }
        if meta.type == T.VALUE then
                out[#out + 1] = 'value'
                out[#out + 1] = elem_text(meta.typecode, redis.call('GETRANGE', key .. ':data', 0, size - 1))
        end
        return out
end
INFO[T.VALUE] = array_info
INFO[T.ARRAY] = array_info

-- declare(typecode, length, value, initial, counted, cid, lease_ms) -> created.
redis.register_function('mpx_array_declare', function(keys, args)
        local key, tc, length = keys[1], args[1], int(args[2])
        local type = args[3] == '1' and T.VALUE or T.ARRAY
        if length * ELEM[tc] > ARRAY_MAX_BYTES then fail('ENOSPC') end
        local created = declare(key, type, { 'typecode', tc, 'length', length },
                                args[5] == '1', args[6], int(args[7]))
        if created == 1 then
                redis.call('HSET', key, 'adds', 0, 'sets', 0)
                if #args[4] > 0 then
                        redis.call('SET', key .. ':data', args[4])
                else
                        redis.call('SETRANGE', key .. ':data', length * ELEM[tc] - 1, '\0')
                end
        end
        return created
end)

-- get(typecode, index, count) -> elements.
redis.register_function('mpx_array_get', function(keys, args)
        local key = keys[1]
        local meta, size = array_as(key, args[1])
        local count = int(args[3])
        local first = array_range(meta, int(args[2]), count)
        if count * size > MAX_MESSAGE then fail('EMSGSIZE') end
        if count == 0 then return '' end
        return redis.call('GETRANGE', key .. ':data', first * size, (first + count) * size - 1)
end)

-- set(typecode, index, elements).
redis.register_function('mpx_array_set', function(keys, args)
        local key, data = keys[1], args[3]
        local meta, size = array_as(key, args[1])
        if #data > MAX_MESSAGE then fail('EMSGSIZE') end
        if #data % size ~= 0 then fail('EINVAL') end
        local first = array_range(meta, int(args[2]), #data / size)
        if #data > 0 then
                redis.call('SETRANGE', key .. ':data', first * size, data)
                redis.call('HINCRBY', key, 'sets', 1)
        end
        return 0
end)

-- a + b of one element, as the type adds: integers wrap around at their width.
local function elem_add(tc, size, a, b)
        if tc == 'f' or tc == 'd' then
                local fmt = '<' .. tc
                return struct.pack(fmt, struct.unpack(fmt, a) + struct.unpack(fmt, b))
        end
        if size <= 4 then
                local fmt = '<I' .. size
                return struct.pack(fmt, (struct.unpack(fmt, a) + struct.unpack(fmt, b)) % 2 ^ (8 * size))
        end
        -- 8 bytes exceed a double's precision: add the 32-bit halves with a carry.
        local alo, ahi = struct.unpack('<I4I4', a)
        local blo, bhi = struct.unpack('<I4I4', b)
        local lo = alo + blo
        local carry = lo >= 2 ^ 32 and 1 or 0
        return struct.pack('<I4I4', lo % 2 ^ 32, (ahi + bhi + carry) % 2 ^ 32)
end

-- add(typecode, index, delta) -> the element after the addition.
redis.register_function('mpx_array_add', function(keys, args)
        local key, tc, delta = keys[1], args[1], args[3]
        local meta, size = array_as(key, tc)
        if tc == 'c' or #delta ~= size then fail('EINVAL') end
        local at = array_range(meta, int(args[2]), 1) * size
        local cur = redis.call('GETRANGE', key .. ':data', at, at + size - 1)
        local new = elem_add(tc, size, cur, delta)
        redis.call('SETRANGE', key .. ':data', at, new)
        redis.call('HINCRBY', key, 'adds', 1)
        return new
end)

-- cas(typecode, index, expected, new) -> { swapped, current }: compared bit for bit.
redis.register_function('mpx_array_cas', function(keys, args)
        local key, expected, new = keys[1], args[3], args[4]
        local meta, size = array_as(key, args[1])
        if #expected ~= size or #new ~= size then fail('EINVAL') end
        local at = array_range(meta, int(args[2]), 1) * size
        local cur = redis.call('GETRANGE', key .. ':data', at, at + size - 1)
        if cur ~= expected then return { 0, cur } end
        redis.call('SETRANGE', key .. ':data', at, new)
        redis.call('HINCRBY', key, 'sets', 1)
        return { 1, new }
end)
