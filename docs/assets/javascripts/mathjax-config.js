// MathJax 3 settings for pymdownx.arithmatex (generic mode), as Material for MkDocs documents.
window.MathJax = {
  tex: {
    // pymdownx.arithmatex writes \( \) and \[ \]; hooks/site.py does the same for the labs.
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
    // The context menu can switch on speech output, which would load the speech-rule engine
    // from a CDN; the site must work offline, so the menu stays off.
    enableMenu: false,
  },
};

// Material swaps page content without a reload (instant navigation): typeset each new page.
document$.subscribe(() => {
  if (!window.MathJax || !MathJax.startup || !MathJax.typesetPromise) return;
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
