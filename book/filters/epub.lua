-- epub.lua: the book as one document, for the EPUB.
--
-- Pandoc runs it on an empty document; it reads the chapters the first
-- pass made (JSON, in reading order, from book-parts) and joins them.
-- Pandoc's EPUB writer then splits them again at each chapter's title
-- and resolves the "#identifier" links across chapters by itself.
--
-- It is also where the book is checked as a whole:
--   - every internal link goes to an identifier some chapter has;
--   - every listing marker in the sources (book-sources) is shown by some
--     chapter: a marker no chapter uses is an error, because it means the
--     book no longer explains a part of the code it promised to.

local dir = PANDOC_SCRIPT_FILE:match("(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local markers = require("markers")
local errors = require("errors")

local stringify = pandoc.utils.stringify

local function list(meta, key)
  local out = {}
  for word in stringify(meta[key] or ""):gmatch("%S+") do
    out[#out + 1] = word
  end
  return out
end

local function build(doc)
  local blocks, ids, used = {}, {}, {}
  for _, part in ipairs(list(doc.meta, "book-parts")) do
    local f = assert(io.open(part, "rb"))
    local chapter = pandoc.read(f:read("a"), "json")
    f:close()
    chapter:walk({
      Block = function(b)
        if b.identifier and b.identifier ~= "" then
          ids[b.identifier] = true
        end
        if b.t == "Div" and b.classes:includes("listing") then
          used[b.attributes.file .. "\0" .. b.attributes.marker] = true
        end
      end,
      Inline = function(i)
        if i.identifier and i.identifier ~= "" then
          ids[i.identifier] = true
        end
      end,
    })
    for _, b in ipairs(chapter.blocks) do
      blocks[#blocks + 1] = b
    end
  end

  local problems = {}
  local result = pandoc.Pandoc(blocks, doc.meta)
  result:walk({
    Link = function(l)
      local id = l.target:match("^#(.+)$")
      if id and not ids[id] and not id:match("^cb%d+%-%d+$") then
        problems[#problems + 1] = "broken link " .. l.target .. " (\"" .. stringify(l) .. "\")"
      elseif not id and not l.target:match("^%a[%w+.-]*:") then
        problems[#problems + 1] = "link to " .. l.target .. ", which is not part of the book"
      end
    end,
  })
  for _, source in ipairs(list(doc.meta, "book-sources")) do
    local parsed = markers.parse(source)
    for _, name in ipairs(parsed.order) do
      if not used[source .. "\0" .. name] then
        problems[#problems + 1] = string.format(
          "%s:%d: the marker \"%s\" is shown by no chapter (show it with a .listing,"
          .. " or remove the marker)", source, parsed.markers[name].begin, name)
      end
    end
  end
  if #problems > 0 then
    error("book: " .. table.concat(problems, "\nbook: "), 0)
  end

  result.meta["book-parts"] = nil
  result.meta["book-sources"] = nil
  return result
end

-- Errors end pandoc with the message alone (errors.lua).
Pandoc = errors.main(build)
