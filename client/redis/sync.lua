--[[
sync: semaphores (and locks), events and barriers.

Semaphore "mpx:{NAME}": the parameters it was declared with ("initial",
"max", "flags": the SEM_* flags) and its state: "value" (units free, decimal
text changed only with HINCRBY, so that it stays exact up to 2^63 - 1),
"owner_dead" (1 while the next acquirer is to be told EOWNERDEAD),
"owner_died", "acquisitions", "releases", "undone" (counters for INFO),
"tickets" (the last ticket of the line). "mpx:{NAME}:units" is a hash:
client id -> units it holds (SEM_UNDO); "mpx:{NAME}:line" and
"mpx:{NAME}:seen" are the parked acquirers, in arrival order (see below).

Event "mpx:{NAME}": "set" (0 or 1), "sets" (SETs so far: a waiter remembers
the count it saw, and any later SET releases it, even if a CLEAR follows),
"clears", "woken", "tokens"; "mpx:{NAME}:waiters" the parked waiters.

Barrier "mpx:{NAME}": "parties", "action" (0 or 1), "timeout" (ms, -1 none),
"round" (the current round's id: unique over the barrier's incarnations,
since it starts from the creation time), "waiting" (parties parked in the
round), "broken" (0 or 1), "holder" (the client id running the action of a
held round, "" for none), "tokens" (arrival counter), "rounds", "breaks",
"resets". "mpx:{NAME}:arrivals" is the round's parked parties, a sorted set
of "token:cid" by token, so that a party's arrival index is its rank when
the round completes. A completed round's set is renamed
"mpx:{NAME}:done:ROUND" and kept for a minute, for its parked parties to
read their indexes from; a round that ends without one broke.
]]

local SEM_BOUNDED = 1
local SEM_NO_UNDO = 2
local SEM_VALUE_MAX = '9223372036854775807'

SUBKEYS[T.SEMAPHORE] = { ':units', ':line', ':seen' }
SUBKEYS[T.EVENT] = { ':waiters' }
SUBKEYS[T.BARRIER] = { ':arrivals' }

-- Compare two non-negative decimal integers given as text: -1, 0 or 1.
local function cmp_dec(a, b)
        if #a ~= #b then return #a < #b and -1 or 1 end
        if a == b then return 0 end
        return a < b and -1 or 1
end

-- object(), its hash read again after the holders that died were dealt with (which may change it).
local function fresh(key, type)
        object(key, type)
        return meta_of(key)
end

-- The object of a parked request called again: EIDRM if it went away meanwhile.
local function still(key, type)
        local meta = meta_of(key)
        if meta == nil or meta.type ~= type then fail('EIDRM') end
        if reap(key, meta) == true then fail('EIDRM') end
        return meta_of(key)
end

-- ---- semaphores ----

local function sem_cap(meta)
        if bit.band(int(meta.flags), SEM_BOUNDED) ~= 0 then return meta.max end
        return SEM_VALUE_MAX
end

local function sem_undo(meta)
        return bit.band(int(meta.flags), SEM_NO_UNDO) == 0
end

-- Add units to the value, never past the cap (a unit given back that another client released already).
local function sem_add(key, meta, units)
        local cap = sem_cap(meta)
        local v = redis.call('HGET', key, 'value')
        if #cap < 16 then
                -- Both exact as Lua numbers.
                local n = math.min(units, tonumber(cap) - tonumber(v))
                if n > 0 then redis.call('HINCRBY', key, 'value', n) end
        elseif #v + 1 < #cap then
                redis.call('HINCRBY', key, 'value', units)
        else
                for _ = 1, units do
                        if cmp_dec(redis.call('HGET', key, 'value'), cap) >= 0 then break end
                        redis.call('HINCRBY', key, 'value', 1)
                end
        end
end

-- A client gone: out of the line; its units come back (SEM_UNDO), and the next acquirer is told a holder died.
CLIENT_GONE[T.SEMAPHORE] = function(key, meta, cid, died)
        local suffix = ':' .. cid
        for _, m in ipairs(redis.call('ZRANGE', key .. ':line', 0, -1)) do
                if string.sub(m, -#suffix) == suffix then
                        redis.call('ZREM', key .. ':line', m)
                        redis.call('ZREM', key .. ':seen', m)
                        wake(key)
                end
        end
        local units = tonumber(redis.call('HGET', key .. ':units', cid) or '0')
        if units <= 0 then return end
        redis.call('HDEL', key .. ':units', cid)
        sem_add(key, meta, units)
        -- As mpxd: a connection that closes holding units counts as a holder that died.
        redis.call('HSET', key, 'owner_dead', 1)
        redis.call('HINCRBY', key, 'owner_died', 1)
        redis.call('HINCRBY', key, 'undone', units)
        wake(key)
end

-- An INFO integer from decimal text: exact up to 2^53, and never past an i64 above it.
local function info_int(s)
        local n = tonumber(s) or 0
        if n >= 9223372036854775807 then n = 9223372036854774784 end
        return n
end

INFO[T.SEMAPHORE] = function(key, meta)
        local h = redis.call('HMGET', key, 'value', 'owner_dead', 'owner_died', 'acquisitions', 'releases', 'undone')
        local held = 0
        local units = redis.call('HVALS', key .. ':units')
        for _, u in ipairs(units) do held = held + tonumber(u) end
        local v = info_int(h[1])
        local line = redis.call('ZCARD', key .. ':line')
        return { 'size', v, 'value', v, 'acquirers', line, 'waiters', line, 'initial', info_int(meta.initial), 'max', info_int(meta.max),
                 'bounded', bit.band(int(meta.flags), SEM_BOUNDED) ~= 0 and 1 or 0,
                 'undo', sem_undo(meta) and 1 or 0, 'holders', #units, 'held', held,
                 'acquisitions', info_int(h[4]), 'releases', info_int(h[5]), 'undone', info_int(h[6]),
                 'owner_died', info_int(h[3]), 'owner_dead', info_int(h[2]) }
end

-- declare(value, max, semflags, counted, cid, lease_ms) -> created; the arguments are checked by the caller.
redis.register_function('mpx_sem_declare', function(keys, args)
        local key = keys[1]
        local created = declare(key, T.SEMAPHORE, { 'initial', args[1], 'max', args[2], 'flags', args[3] },
                                args[4] == '1', args[5], int(args[6]))
        if created == 1 then
                redis.call('HSET', key, 'value', args[1], 'owner_dead', 0, 'owner_died', 0,
                           'acquisitions', 0, 'releases', 0, 'undone', 0)
        end
        return created
end)

--[[
The line of parked acquirers, so that they are served in arrival order:
"mpx:{NAME}:line" holds them as "ticket:cid" by ticket, "mpx:{NAME}:seen"
when each last asked. A parked acquirer is a holder: its client's end (or
lease) takes it out of the line. A parked call asks at least once a second
anyway; one not heard from for WAITER_STALE_MS loses its place (a safety net).
]]
local WAITER_STALE_MS = 5000

local function sem_line_purge(key)
        local stale = redis.call('ZRANGE', key .. ':seen', '-inf', '(' .. (now_ms() - WAITER_STALE_MS), 'BYSCORE')
        if #stale == 0 then return end
        redis.call('ZREM', key .. ':line', unpack(stale))
        redis.call('ZREM', key .. ':seen', unpack(stale))
        -- The acquirers behind them may be first now.
        wake(key)
end

-- Take one unit for cid: 0, or 1 when a holder died (EOWNERDEAD), plus 2 when cid holds it (SEM_UNDO).
local function sem_take(key, meta, cid, lease_ms)
        redis.call('HINCRBY', key, 'value', -1)
        redis.call('HINCRBY', key, 'acquisitions', 1)
        local r = 0
        if redis.call('HGET', key, 'owner_dead') == '1' then
                redis.call('HSET', key, 'owner_dead', 0)
                r = 1
        end
        if sem_undo(meta) then
                redis.call('HINCRBY', key .. ':units', cid, 1)
                hold(key, cid, lease_ms)
                r = r + 2
        end
        return r
end

--[[
acquire(mode, cid, lease_ms, may_wait): take a unit. mode is "-" for the
request's first call, else its ticket in the line. Returns what sem_take()
does, or -(ticket) - 1 when the acquirer must wait (the caller parks and
calls again with the ticket), or -1 when it must and may not (may_wait "0":
EAGAIN, and nothing changed).
]]
redis.register_function('mpx_sem_acquire', function(keys, args)
        local key, cid, lease = keys[1], args[2], int(args[3])
        local meta
        if args[1] == '-' then meta = fresh(key, T.SEMAPHORE) else meta = still(key, T.SEMAPHORE) end
        sem_line_purge(key)
        local value = tonumber(redis.call('HGET', key, 'value'))
        if args[1] == '-' then
                -- Nobody overtakes a parked acquirer.
                if value > 0 and redis.call('ZCARD', key .. ':line') == 0 then
                        return sem_take(key, meta, cid, lease)
                end
                if args[4] == '0' then return -1 end
                local ticket = redis.call('HINCRBY', key, 'tickets', 1)
                local member = ticket .. ':' .. cid
                redis.call('ZADD', key .. ':line', ticket, member)
                redis.call('ZADD', key .. ':seen', now_ms(), member)
                -- Held, so that the line forgets it as soon as its client goes.
                hold(key, cid, lease)
                return -ticket - 1
        end
        local ticket, member = args[1], args[1] .. ':' .. cid
        -- A ticket purged while its client could not ask (Redis out of reach) takes its place again.
        redis.call('ZADD', key .. ':line', ticket, member)
        redis.call('ZADD', key .. ':seen', now_ms(), member)
        hold(key, cid, lease)
        -- The first value acquirers of the line may each take one.
        if redis.call('ZRANK', key .. ':line', member) >= value then fail('EAGAIN') end
        redis.call('ZREM', key .. ':line', member)
        redis.call('ZREM', key .. ':seen', member)
        local r = sem_take(key, meta, cid, lease)
        if value > 1 and redis.call('ZCARD', key .. ':line') > 0 then wake(key) end
        return r
end)

-- leave(ticket, cid): a parked acquirer's timeout passed or it was cancelled: out of the line.
redis.register_function('mpx_sem_leave', function(keys, args)
        local key = keys[1]
        redis.call('ZREM', key .. ':line', args[1] .. ':' .. args[2])
        redis.call('ZREM', key .. ':seen', args[1] .. ':' .. args[2])
        local value = redis.call('HGET', key, 'value')
        if value and value ~= '0' then wake(key) end
        return 0
end)

-- release(cid): one unit back, from cid's holding if it has one. ERANGE at the cap.
redis.register_function('mpx_sem_release', function(keys, args)
        local key = keys[1]
        local meta = object(key, T.SEMAPHORE)
        if cmp_dec(redis.call('HGET', key, 'value'), sem_cap(meta)) >= 0 then fail('ERANGE') end
        if sem_undo(meta) then
                local units = redis.call('HINCRBY', key .. ':units', args[1], -1)
                if units <= 0 then redis.call('HDEL', key .. ':units', args[1]) end
        end
        redis.call('HINCRBY', key, 'value', 1)
        redis.call('HINCRBY', key, 'releases', 1)
        wake(key)
        return 0
end)

-- value() -> { value, max } as decimal text.
redis.register_function('mpx_sem_value', function(keys, args)
        local key = keys[1]
        local meta = object(key, T.SEMAPHORE)
        return { redis.call('HGET', key, 'value'), meta.max }
end)

-- ---- events ----

--[[
The parked waiters, for INFO: "mpx:{NAME}:waiters" holds them as "token:cid"
by when each last asked (a parked call asks at least once a second). A SET
releases them all, and empties it.
]]
local function event_waiters(key)
        return redis.call('ZCOUNT', key .. ':waiters', now_ms() - WAITER_STALE_MS, '+inf')
end

INFO[T.EVENT] = function(key, meta)
        local set = tonumber(meta.set)
        return { 'size', set, 'set', set, 'waiters', event_waiters(key), 'sets', tonumber(meta.sets),
                 'clears', tonumber(meta.clears), 'woken', tonumber(meta.woken or 0) }
end

-- A client gone: its parked waits are no longer waiters.
CLIENT_GONE[T.EVENT] = function(key, meta, cid, died)
        local suffix = ':' .. cid
        for _, m in ipairs(redis.call('ZRANGE', key .. ':waiters', 0, -1)) do
                if string.sub(m, -#suffix) == suffix then redis.call('ZREM', key .. ':waiters', m) end
        end
end

-- declare(counted, cid, lease_ms) -> created (clear).
redis.register_function('mpx_event_declare', function(keys, args)
        local key = keys[1]
        local created = declare(key, T.EVENT, {}, args[1] == '1', args[2], int(args[3]))
        if created == 1 then redis.call('HSET', key, 'set', 0, 'sets', 0, 'clears', 0, 'woken', 0) end
        return created
end)

redis.register_function('mpx_event_set', function(keys, args)
        local key = keys[1]
        object(key, T.EVENT)
        redis.call('HSET', key, 'set', 1)
        redis.call('HINCRBY', key, 'sets', 1)
        redis.call('HINCRBY', key, 'woken', event_waiters(key))
        redis.call('DEL', key .. ':waiters')
        wake(key)
        return 0
end)

redis.register_function('mpx_event_clear', function(keys, args)
        local key = keys[1]
        object(key, T.EVENT)
        redis.call('HSET', key, 'set', 0)
        redis.call('HINCRBY', key, 'clears', 1)
        return 0
end)

redis.register_function('mpx_event_is_set', function(keys, args)
        local key = keys[1]
        object(key, T.EVENT)
        return tonumber(redis.call('HGET', key, 'set'))
end)

-- Released: set now, or set since the waiter saw "sets" at its first call.
local function event_released(key, seen)
        local h = redis.call('HMGET', key, 'set', 'sets')
        return h[1] == '1' or (seen ~= '-' and tonumber(h[2]) > int(seen))
end

--[[
wait(seen, may_wait, token, cid, lease_ms): seen is "-" at the request's
first call. Answers 1, released; 0, not released and may_wait "0" (EAGAIN,
nothing changed); or { sets, token } at the first call: park, and call again
with seen = sets and that token, so that any later SET releases the waiter
even if a CLEAR follows before it asks. A later call fails EAGAIN till then.
]]
redis.register_function('mpx_event_wait', function(keys, args)
        local key, seen, cid = keys[1], args[1], args[4]
        if seen == '-' then object(key, T.EVENT) else still(key, T.EVENT) end
        local member = args[3] .. ':' .. cid
        if event_released(key, seen) then
                if seen ~= '-' then redis.call('ZREM', key .. ':waiters', member) end
                return 1
        end
        if seen == '-' then
                if args[2] == '0' then return 0 end
                redis.call('ZREMRANGEBYSCORE', key .. ':waiters', '-inf', '(' .. (now_ms() - WAITER_STALE_MS))
                local token = redis.call('HINCRBY', key, 'tokens', 1)
                member = token .. ':' .. cid
        end
        redis.call('ZADD', key .. ':waiters', now_ms(), member)
        hold(key, cid, int(args[5]))
        if seen == '-' then return { redis.call('HGET', key, 'sets'), string.match(member, '^%d+') } end
        fail('EAGAIN')
end)

-- leave(seen, token, cid): a parked waiter's timeout passed or it was cancelled. 1 if it was released first after all.
redis.register_function('mpx_event_leave', function(keys, args)
        local key = keys[1]
        if meta_of(key) == nil then fail('EIDRM') end
        redis.call('ZREM', key .. ':waiters', args[2] .. ':' .. args[3])
        return event_released(key, args[1]) and 1 or 0
end)

-- ---- barriers ----

local BARRIER_ACTION = 1
local BARRIER_DONE_MS = 60000           -- how long a completed round's indexes are kept

-- The round is over: its parked parties find their indexes (done) or not (broken).
local function barrier_end_round(key, meta, done)
        local round = meta.round
        if done then
                if redis.call('EXISTS', key .. ':arrivals') == 1 then
                        local dkey = key .. ':done:' .. round
                        redis.call('RENAME', key .. ':arrivals', dkey)
                        redis.call('PEXPIRE', dkey, BARRIER_DONE_MS)
                end
                redis.call('HINCRBY', key, 'rounds', 1)
        else
                redis.call('DEL', key .. ':arrivals')
        end
        redis.call('HINCRBY', key, 'round', 1)
        redis.call('HSET', key, 'waiting', 0, 'holder', '')
        wake(key)
end

local function barrier_break(key, meta)
        if meta.broken ~= '1' then redis.call('HINCRBY', key, 'breaks', 1) end
        redis.call('HSET', key, 'broken', 1)
        barrier_end_round(key, meta, false)
end

-- A client gone: a round it held, or one it was parked in, breaks (as when its connection closes).
CLIENT_GONE[T.BARRIER] = function(key, meta, cid, died)
        if meta.holder == cid then return barrier_break(key, meta) end
        local suffix = ':' .. cid
        for _, m in ipairs(redis.call('ZRANGE', key .. ':arrivals', 0, -1)) do
                if string.sub(m, -#suffix) == suffix then return barrier_break(key, meta) end
        end
end

INFO[T.BARRIER] = function(key, meta)
        local waiting = tonumber(meta.waiting)
        return { 'size', waiting, 'parties', tonumber(meta.parties), 'waiting', waiting,
                 'broken', tonumber(meta.broken), 'action', tonumber(meta.action),
                 'held', meta.holder ~= '' and 1 or 0, 'timeout_ms', tonumber(meta.timeout),
                 'rounds', tonumber(meta.rounds), 'breaks', tonumber(meta.breaks), 'resets', tonumber(meta.resets) }
end

-- declare(parties, action, timeout, has_flags, has_timeout, counted, cid, lease_ms) -> created.
redis.register_function('mpx_barrier_declare', function(keys, args)
        local key = keys[1]
        local params = { 'parties', args[1] }
        if args[4] == '1' then
                params[#params + 1] = 'action'
                params[#params + 1] = args[2]
        end
        if args[5] == '1' then
                params[#params + 1] = 'timeout'
                params[#params + 1] = args[3]
        end
        local created = declare(key, T.BARRIER, params, args[6] == '1', args[7], int(args[8]))
        if created == 1 then
                redis.call('HSET', key, 'action', args[2], 'timeout', args[3],
                           'round', string.format('%.0f', now_ms() * 1000), 'waiting', 0, 'broken', 0, 'holder', '',
                           'tokens', 0, 'rounds', 0, 'breaks', 0, 'resets', 0)
        end
        return created
end)

--[[
wait(mode, timeout, cid, lease_ms, round, token). Mode "arrive": a party
arrives (timeout is its own, or "default" for the barrier's). Answers
  { 0, timeout, index }         the round completed (or is held by this party)
  { 1, timeout, round, token }  parked in the round: call again in mode "check"
  { 2, timeout }                a round is held: call again in mode "arrive"
  { 3, timeout, index }         this party holds the round: run the action, then PASS
or fails EAGAIN (timeout 0 and not the last party: nothing changed) or
ENOTRECOVERABLE. Mode "check": { 0, timeout, index } once the round of
round and token completed; EAGAIN while it goes on; ENOTRECOVERABLE when it broke.
]]
local function barrier_check(key, round, member)
        local rank = redis.call('ZRANK', key .. ':done:' .. round, member)
        if rank then return { 0, 0, rank } end
        local meta = still(key, T.BARRIER)
        if meta.round == round then fail('EAGAIN') end
        fail('ENOTRECOVERABLE')
end

redis.register_function('mpx_barrier_wait', function(keys, args)
        local key, mode, cid = keys[1], args[1], args[3]
        if mode == 'check' then return barrier_check(key, args[5], args[6] .. ':' .. cid) end
        local meta = fresh(key, T.BARRIER)
        if meta.broken == '1' then fail('ENOTRECOVERABLE') end
        local timeout = args[2]
        if timeout == 'default' then timeout = meta.timeout end
        local t = int(timeout)
        local parties = int(meta.parties)
        if meta.holder ~= '' then
                if t == 0 then fail('EAGAIN') end
                return { 2, timeout }
        end
        if int(meta.waiting) == parties - 1 then
                if meta.action == '1' then
                        redis.call('HSET', key, 'holder', cid)
                        hold(key, cid, int(args[4]))
                        return { 3, timeout, parties - 1 }
                end
                barrier_end_round(key, meta, true)
                return { 0, timeout, parties - 1 }
        end
        if t == 0 then fail('EAGAIN') end
        local token = redis.call('HINCRBY', key, 'tokens', 1)
        redis.call('ZADD', key .. ':arrivals', token, token .. ':' .. cid)
        redis.call('HINCRBY', key, 'waiting', 1)
        hold(key, cid, int(args[4]))
        return { 1, timeout, meta.round, token }
end)

--[[
leave(why, state, round, token, cid): a parked party's timeout passed
(why "timeout") or it was cancelled ("cancel"). state 1: it was parked in
round under token; state 2: it was waiting for a held round to pass.
A timeout breaks the barrier, a cancel withdraws the party. Answers
{ 0, index } when the round completed first after all, { 1 } when the
party left as asked, or fails ENOTRECOVERABLE (it broke first) or EIDRM.
]]
redis.register_function('mpx_barrier_leave', function(keys, args)
        local key, why, cid = keys[1], args[1], args[5]
        if args[2] == '1' then
                local member = args[4] .. ':' .. cid
                local rank = redis.call('ZRANK', key .. ':done:' .. args[3], member)
                if rank then return { 0, rank } end
                local meta = still(key, T.BARRIER)
                if meta.round ~= args[3] then fail('ENOTRECOVERABLE') end
                if why == 'timeout' then
                        barrier_break(key, meta)
                elseif meta.holder == '' then
                        -- A withdrawal: the parties after it move up one index.
                        redis.call('ZREM', key .. ':arrivals', member)
                        redis.call('HINCRBY', key, 'waiting', -1)
                end
                -- (A party of a held round that is cancelled leaves it complete, as it is.)
                return { 1 }
        end
        local meta = still(key, T.BARRIER)
        if why == 'timeout' and meta.broken ~= '1' then barrier_break(key, meta) end
        return { 1 }
end)

-- reset(): the parked parties fail, and the barrier is whole and empty.
redis.register_function('mpx_barrier_reset', function(keys, args)
        local key = keys[1]
        local meta = fresh(key, T.BARRIER)
        redis.call('HINCRBY', key, 'resets', 1)
        redis.call('HSET', key, 'broken', 0)
        barrier_end_round(key, meta, false)
        return 0
end)

redis.register_function('mpx_barrier_abort', function(keys, args)
        local key = keys[1]
        barrier_break(key, fresh(key, T.BARRIER))
        return 0
end)

-- pass(cid): the action of the round cid holds ran: release the round.
redis.register_function('mpx_barrier_pass', function(keys, args)
        local key = keys[1]
        local meta = fresh(key, T.BARRIER)
        if meta.broken == '1' then fail('ENOTRECOVERABLE') end
        if meta.holder ~= args[1] then fail('EINVAL') end
        barrier_end_round(key, meta, true)
        return 0
end)
