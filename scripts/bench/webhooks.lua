-- wrk script for scripts/bench.sh: posts pre-signed Twilio webhooks from the file in
-- $BENCH_REQUESTS (lines "signature<TAB>form body", written by textdesk-bench
-- --write-requests). Each wrk thread takes every n-th line, so no text is sent twice
-- while the file lasts; past its end a thread stops sending new texts and repeats
-- its last one (acknowledged as a duplicate, counted in "repeats" below).

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end

function init(args)
    local file = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"), "BENCH_REQUESTS: no such file")
    local stride = tonumber(os.getenv("BENCH_THREADS") or "2")
    requests = {}
    local n = 0
    for line in file:lines() do
        if n % stride == id - 1 then
            local tab = line:find("\t", 1, true)
            local headers = {
                ["Content-Type"] = "application/x-www-form-urlencoded",
                ["X-Twilio-Signature"] = line:sub(1, tab - 1),
            }
            table.insert(requests, wrk.format("POST", "/webhooks/twilio", headers, line:sub(tab + 1)))
        end
        n = n + 1
    end
    file:close()
    next_request = 1
    repeats = 0
end

function request()
    local r = requests[next_request]
    if next_request < #requests then
        next_request = next_request + 1
    else
        repeats = repeats + 1
    end
    return r
end

function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do
        total = total + thread:get("repeats")
    end
    io.write(string.format("repeats: %d\n", total))
end
