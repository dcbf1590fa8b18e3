/*
 * The launch URL of a converted app (chrome-extension://<id>/resocket/launch.html): start the app's background
 * page if it is not running, fire chrome.app.runtime.onLaunched there, then close this tab. Opening it again
 * fires onLaunched again, as launching a running Chrome App did.
 */
(function launch() {
  'use strict';

  const app = self.__resocketApp || {};
  const status = document.getElementById('status');
  document.title = `Launching ${app.name || 'app'}`;
  const params = new URLSearchParams(location.search);

  self.__resocketRuntime.ensureBackground().then((bg) => {
    bg.__resocketRuntime.fireLaunched({ source: params.get('source') || 'app_launcher' });
    status.textContent = `Launched ${app.name || 'the app'}.`;
    document.documentElement.dataset.launched = 'true';
    // ?keep keeps the tab (debugging); otherwise it closes, as the launcher closed in Chrome.
    if (!params.has('keep')) {
      chrome.tabs.getCurrent((tab) => { if (tab) chrome.tabs.remove(tab.id, () => void chrome.runtime.lastError); });
    }
  }, (err) => {
    status.textContent = `Could not launch ${app.name || 'the app'}: ${err.message}`;
    document.documentElement.dataset.launched = 'error';
  });
})();
