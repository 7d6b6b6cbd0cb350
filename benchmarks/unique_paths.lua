-- wrk script: every request takes the next path of a file, each path at most once.
-- Usage: wrk ... --script unique_paths.lua URL -- PATHS_FILE THREADS
-- Thread n of THREADS takes lines n, n + THREADS, ...; a thread that runs out starts over,
-- and the repeats show up as refusals (a spent payload) in wrk's non-2xx count. A file with
-- fewer lines than threads (one page requested over and over) gives every thread every line.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  paths = {}
  local threads = tonumber(args[2])
  local all = {}
  for line in io.lines(args[1]) do
    all[#all + 1] = line
  end
  for n = 1, #all do
    if (n - 1) % threads == id then
      paths[#paths + 1] = all[n]
    end
  end
  if #paths == 0 then
    paths = all
  end
  position = 0
end

function request()
  position = position + 1
  return wrk.format("GET", paths[(position - 1) % #paths + 1])
end
