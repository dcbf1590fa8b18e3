/*
 * The launch URL of a converted app (chrome-extension://<id>/resocket/launch.html): start the app's background
 * page if it is not running, fire chrome.app.runtime.onLaunched there, then close this tab. Opening it again
 * fires onLaunched again, as launching a running Chrome App did.
 *
 * This script is loaded in <head>, before <body> exists: the status line is looked up only when it is
 * written, once the document is parsed (looking it up at load time was the TypeError of every launch).
 */
(function launch() {
  'use strict';

  const app = self.__resocketApp || {};
  document.title = `Launching ${app.name || 'app'}`;
  const params = new URLSearchParams(location.search);
  const parsed = new Promise((resolve) => {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => resolve(), { once: true });
    else resolve();
  });

  /** Show the outcome in the status line and on <html data-launched> (what the tests and a user see). */
  function report(state, text) {
    return parsed.then(() => {
      const status = document.getElementById('status');
      if (status) status.textContent = text;
      document.documentElement.dataset.launched = state;
    });
  }

  self.__resocketRuntime.ensureBackground().then((bg) => {
    bg.__resocketRuntime.fireLaunched({ source: params.get('source') || 'app_launcher' });
    return report('true', `Launched ${app.name || 'the app'}.`).then(() => {
      // ?keep keeps the tab (debugging); otherwise it closes, as the launcher closed in Chrome.
      if (params.has('keep')) return;
      chrome.tabs.getCurrent((tab) => { if (tab) chrome.tabs.remove(tab.id, () => void chrome.runtime.lastError); });
    });
  }, (err) => report('error', `Could not launch ${app.name || 'the app'}: ${err.message}`));
})();
