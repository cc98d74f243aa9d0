// render-probe.js: loaded by render-check.sh into a copy of a book page.
// Once the page has loaded, it writes its verdict into the body's
// data-render-check attribute: "OK ..." or what is wrong (an image that
// did not decode, the stylesheet not applied, an empty page).
window.addEventListener('load', function () {
  var problems = [];
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
  document.body.setAttribute('data-render-check', problems.length ?
    problems.join('; ') :
    'OK ' + images.length + ' images decoded, stylesheet applied, ' + words + ' words');
});
