// render-probe.js: loaded by render-check.sh into a copy of a book page,
// opened as PAGE.probe.html?width=NAME&min=PX (NAME is "laptop" or
// "phone", PX the smallest text a diagram may show at that width) inside
// a frame of that width (headless Chromium's window is at least 500 px
// wide, a frame can be any width).
// Once the page has loaded, it writes its verdict into the body's
// data-render-check attribute: "OK ..." or what is wrong (an image that
// did not decode, the stylesheet not applied, an empty page, a diagram
// whose text is too small or that leaves the page).
//
// The size of a diagram's text as the reader sees it: each SVG (fetched
// again: an <img> does not show its inside) is laid out at the size its
// <img> has on the page, and each of its <text> elements' font size is
// multiplied by its scale on the screen (getScreenCTM, which takes in
// the viewBox and every transform). The smallest one is the figure's.
// The fetch needs Chromium's --allow-file-access-from-files.
window.addEventListener('load', function () {
  var params = new URLSearchParams(location.search);
  var width = params.get('width') || '?';
  var min = parseFloat(params.get('min') || '0');
  var problems = [], figures = [];

  var images = document.querySelectorAll('img');
  images.forEach(function (img) {
    if (!img.complete || img.naturalWidth === 0)
      problems.push('broken image ' + img.getAttribute('src'));
  });
  var main = document.querySelector('main');
  if (!main || getComputedStyle(main).maxWidth === 'none')
    problems.push('book.css not applied');
  var words = (document.body.innerText || '').split(/\s+/).length;
  if (words < 50)
    problems.push('almost no text (' + words + ' words)');

  // Text a verdict can carry in an attribute: no quotes, no markup.
  function plain(s) {
    return s.replace(/[^\w .:\/+=()\[\]-]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 40);
  }

  function smallestText(img) {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', img.src, false);
    xhr.send();
    var doc = new DOMParser().parseFromString(xhr.responseText, 'image/svg+xml');
    var svg = doc.documentElement;
    if (!svg || svg.nodeName !== 'svg')
      return null;
    var rect = img.getBoundingClientRect();
    var box = document.createElement('div');
    box.style.cssText = 'position:absolute;left:0;top:0;visibility:hidden;';
    svg = document.importNode(svg, true);
    svg.setAttribute('width', rect.width);
    svg.setAttribute('height', rect.height);
    box.appendChild(svg);
    document.body.appendChild(box);
    var best = null;
    svg.querySelectorAll('text').forEach(function (t) {
      if (!/\S/.test(t.textContent))
        return;
      var m = t.getScreenCTM();
      var px = parseFloat(getComputedStyle(t).fontSize) * Math.sqrt(m.a * m.a + m.b * m.b);
      if (!best || px < best.px)
        best = { px: px, text: t.textContent };
    });
    document.body.removeChild(box);
    return best;
  }

  var viewport = document.documentElement.clientWidth;
  document.querySelectorAll('main img').forEach(function (img) {
    var src = img.getAttribute('src');
    if (!/\.svg$/.test(src))
      return;
    var name = src.replace(/^.*\//, '');
    var rect = img.getBoundingClientRect();
    var link = img.closest('a');
    if (!link || link.getAttribute('href') !== src)
      problems.push(name + ': not a link to the full-size diagram');
    if (rect.left < -0.5 || rect.right > viewport + 0.5)
      problems.push(name + ': ' + Math.round(rect.width) + ' px wide, wider than the page (' +
        viewport + ' px)');
    var best = smallestText(img);
    if (!best) {
      problems.push(name + ': could not read the SVG (--allow-file-access-from-files?)');
      return;
    }
    var size = best.px.toFixed(1);
    figures.push(name + ' ' + size + ' px');
    if (best.px < min)
      problems.push(name + ': its smallest text (' + plain(best.text) + ') is ' + size +
        ' px at ' + width + ' width (' + viewport + ' px), under ' + min + ' px');
  });

  var sizes = figures.length ? '; smallest text: ' + figures.join(', ') : '';
  var verdict = problems.length ? problems.join('; ') + sizes :
    'OK ' + width + ' ' + viewport + ' px: ' + images.length + ' images decoded, stylesheet applied, ' +
      words + ' words' + sizes;
  document.body.setAttribute('data-render-check', verdict);
  // In render-check.sh's frame (the page at an exact width): tell it.
  if (window.parent !== window)
    window.parent.postMessage(verdict, '*');
});
