-- wrk script for bench/resolver.py: cycle through the paths in a file (one per line),
-- every request with the same Accept header.
--   wrk -t1 -c8 -d10s --latency -s bench/resolver.lua http://127.0.0.1:PORT -- PATHS ACCEPT
local threads = 0

function setup(thread)
  -- each thread starts at another place in the list, so they do not ask in lockstep
  thread:set("first", threads)
  threads = threads + 1
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  wrk.headers["Accept"] = args[2]
  position = ((first or 0) * 7919) % #paths
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end
