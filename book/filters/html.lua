-- html.lua: the book's second pass, turning one chapter (the JSON the
-- first pass made) into one HTML page of the web book.
--
-- It resolves every internal link: the chapters are written with plain
-- "#identifier" links, as if the book were one document; here a link to
-- an identifier in another chapter becomes "chapter.html#identifier".
-- A link to an identifier no chapter has is an error, and so is a link
-- to a file that is not part of the book. It also sets the previous and
-- next pages for the template, folds the long diffs away, makes each
-- figure a link to its full-size diagram, and fills the contents page's
-- list of chapters.
--
-- Metadata: book-chapter (this page's name), book-order (the chapters'
-- names in reading order, space-separated), book-info-dir (where the
-- first pass wrote NAME.info for each chapter).

local stringify = pandoc.utils.stringify

local dir = PANDOC_SCRIPT_FILE:match("(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local errors = require("errors")
local guarded, rethrow = errors.guarded, errors.rethrow

local chapter, order, titles, owner = nil, {}, {}, {}

local function fail(msg)
  error("book: " .. chapter .. ": " .. msg, 0)
end

local function load_infos(dir)
  for _, name in ipairs(order) do
    local f = io.open(dir .. "/" .. name .. ".info", "rb")
    if not f then
      error("book: no " .. dir .. "/" .. name .. ".info: run the first pass first", 0)
    end
    for line in f:lines() do
      local kind, value = line:match("^(%a+)\t(.*)$")
      if kind == "title" then
        titles[name] = value
      elseif kind == "id" then
        if owner[value] and owner[value] ~= name then
          error("book: the identifier #" .. value .. " is in both " .. owner[value]
            .. " and " .. name, 0)
        end
        owner[value] = name
      end
    end
    f:close()
  end
end

-- Where a link to #ID goes from this page.
local function resolve(id, target)
  local page = owner[id]
  if not page then
    fail("broken link " .. target .. ": no chapter has the identifier #" .. id)
  end
  if page == chapter then
    return "#" .. id
  elseif id == page then
    return page .. ".html"
  end
  return page .. ".html#" .. id
end

local function link(l)
  local t = l.target
  if t:match("^%a[%w+.-]*:") then
    return nil                       -- https:, mailto:, ...: not ours to check
  end
  local id = t:match("^#(.+)$")
  if id then
    if id:match("^cb%d+%-%d+$") then
      return nil                     -- a line of a listing on this page
    end
    l.target = resolve(id, t)
    return l
  end
  if t:match("^[%w_.-]+%.epub$") then
    return nil                       -- the EPUB, beside the pages (check-links.pl)
  end
  local page, frag = t:match("^([%w_-]+)%.html#?(.*)$")
  if page and titles[page] then
    if frag ~= "" and owner[frag] ~= page then
      fail("broken link " .. t .. ": " .. page .. " has no #" .. frag)
    end
    return nil
  end
  fail("link to " .. t .. ", which is not a page of the book (link to a chapter's"
    .. " #identifier, or to a full https: address)")
end

local function entry(name)
  return { pandoc.Plain({ pandoc.Link(titles[name], name .. ".html") }) }
end

-- The contents page's list: front matter, the steps, the appendices.
local function contents()
  local parts = {
    { "Before you start", {} }, { "The steps", {} }, { "Appendices", {} },
  }
  for _, name in ipairs(order) do
    if name ~= "index" then
      local part = name:match("^step%d") and 2 or name:match("^appendix") and 3 or 1
      local list = parts[part][2]
      list[#list + 1] = entry(name)
    end
  end
  local blocks = {}
  for _, p in ipairs(parts) do
    if #p[2] > 0 then
      blocks[#blocks + 1] = pandoc.Header(2, { pandoc.Str(p[1]) },
        pandoc.Attr("index-" .. p[1]:lower():gsub("%W+", "-")))
      blocks[#blocks + 1] = pandoc.BulletList(p[2])
    end
  end
  return blocks
end

local function div(d)
  if d.classes:includes("diff") then
    local summary = stringify(d.content[1])
    return {
      pandoc.RawBlock("html", "<details class=\"diff\"><summary>" ..
        summary:gsub("&", "&amp;"):gsub("<", "&lt;") .. " (select to show)</summary>"),
      d.content[2],
      pandoc.RawBlock("html", "</details>"),
    }
  elseif d.classes:includes("contents") then
    return contents()
  end
end

-- A figure (a paragraph holding one image whose title pandoc marked
-- "fig:"): the image becomes a link to itself, so that a diagram too
-- small to read on a narrow screen opens full size at a touch.
local function html_escape(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"))
end

local function figure(p)
  if #p.content ~= 1 or p.content[1].t ~= "Image" then
    return nil
  end
  local img = p.content[1]
  if not img.title:match("^fig:") then
    return nil
  end
  local caption = img.caption
  img.title = img.title:gsub("^fig:", "")
  return {
    pandoc.RawBlock("html", "<figure>"),
    pandoc.Plain({
      pandoc.RawInline("html", '<a class="figure" href="' .. html_escape(img.src)
        .. '" title="Open the diagram full size">'),
      img,
      pandoc.RawInline("html", "</a>"),
    }),
    pandoc.Plain(pandoc.List({ pandoc.RawInline("html", "<figcaption>") }) .. caption
      .. pandoc.List({ pandoc.RawInline("html", "</figcaption>") })),
    pandoc.RawBlock("html", "</figure>"),
  }
end

local function build(doc)
  chapter = stringify(doc.meta["book-chapter"])
  for name in stringify(doc.meta["book-order"]):gmatch("%S+") do
    order[#order + 1] = name
  end
  load_infos(stringify(doc.meta["book-info-dir"]))

  doc = doc:walk({ Link = guarded(link), Div = guarded(div) })
  doc = doc:walk({ Para = figure })
  rethrow()

  local here
  for i, name in ipairs(order) do
    if name == chapter then
      here = i
    end
  end
  if not here then
    fail("is not in book-order")
  end
  local prev, next = order[here - 1], order[here + 1]
  if prev then
    doc.meta["prev-href"] = pandoc.MetaString(prev .. ".html")
    doc.meta["prev-title"] = pandoc.MetaString(titles[prev])
  end
  if next then
    doc.meta["next-href"] = pandoc.MetaString(next .. ".html")
    doc.meta["next-title"] = pandoc.MetaString(titles[next])
  end
  return doc
end

-- Errors end pandoc with the message alone (errors.lua).
Pandoc = errors.main(build)
