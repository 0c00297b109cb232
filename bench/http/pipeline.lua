-- wrk script: HTTP/1.1 pipelining. Each write carries DEPTH requests for the
-- URL's path (default 16: `wrk ... -s pipeline.lua URL -- 16`); wrk counts
-- the requests in the string and sends the next batch once all DEPTH
-- responses of the previous one are in, so every response is counted.
init = function(args)
    local depth = tonumber(args[1]) or 16
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil)
    end
    req = table.concat(r)
end

request = function()
    return req
end
