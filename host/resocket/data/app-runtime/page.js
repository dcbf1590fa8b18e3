/*
 * resocket/page.html?src=PATH: shows one of the app's HTML files that resocket convert-app left unchanged
 * (data, e.g. a web server's www/index.html) as an app page, with the resocket runtime.
 *
 * convert-app injects the runtime scripts only into the pages it finds the app showing; the bytes of every
 * other HTML file stay as they were, because the app may serve or read them. When an app window opens such a
 * file anyway (a URL the scan could not see, e.g. `chrome.app.window.create(name + '.html')`), app-runtime.js
 * opens this loader instead. It fetches the file, moves the address to the file's own URL (so relative URLs,
 * location and the app window's create() callback all see the page the app asked for), and rewrites this
 * document with the file's HTML, the runtime scripts first, exactly as convert-app injects them.
 * Nothing ran in this document before, so the page's scripts see a fresh window, and load fires as usual.
 */
(function loadPage() {
  'use strict';

  const RUNTIME_TAGS = '<script src="/resocket/chrome-socket.js"></script>' +
    '<script src="/resocket/app-config.js"></script><script src="/resocket/app-runtime.js"></script>' +
    '<script src="/resocket/app-filesystem.js"></script>';

  /** The HTML with the runtime scripts right after <head>, else <html>, else the doctype (as convert.inject_scripts). */
  function inject(html) {
    for (const pattern of [/<head(\s[^>]*)?>/i, /<html(\s[^>]*)?>/i, /<!doctype[^>]*>/i]) {
      const m = pattern.exec(html);
      if (m) return html.slice(0, m.index + m[0].length) + '\n' + RUNTIME_TAGS + '\n' + html.slice(m.index + m[0].length);
    }
    return RUNTIME_TAGS + '\n' + html;
  }

  function fail(message) {
    console.error(`resocket page loader: ${message}`);
    document.title = 'resocket: page not loaded';
    document.body.textContent = message;
  }

  const src = new URLSearchParams(location.search).get('src');
  const target = src ? new URL(src, `${location.origin}/`) : null;
  if (!target || target.origin !== location.origin) { fail(`not a page of this app: ${src}`); return; }

  const loaded = new Promise((resolve) => {
    if (document.readyState === 'complete') resolve();
    else addEventListener('load', () => resolve(), { once: true });
  });
  fetch(target.href).then((resp) => {
    if (!resp.ok) throw new Error(`${target.pathname}: HTTP ${resp.status}`);
    return resp.text();
  }).then((html) => loaded.then(() => {
    history.replaceState(null, '', target.href);
    document.open();
    document.write(inject(html));
    document.close();
  })).catch((err) => fail(`cannot load ${target.pathname}: ${err.message}`));
})();
