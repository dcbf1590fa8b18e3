/*
 * resocket/choose.html?request=ID: where the user answers a chrome.fileSystem request that could not show the
 * browser's picker itself (app-filesystem.js rule 2: a picker or permission prompt needs a click in the page
 * that shows it, and the app called without one, e.g. after an asynchronous step).
 *
 * The request lives in the background page; this page only asks. "Choose…" shows the browser's picker (its
 * click is the activation), a drop of files or a folder on the page answers the same, Cancel or closing the
 * window answers "User cancelled". A permission request ("use <name> again") is answered by the button.
 */
(function chooser() {
  'use strict';

  const app = self.__resocketApp || {};
  const BACKGROUND_PATH = '/' + (app.background || 'resocket/background.html');
  const WHAT = { openFile: 'open a file', openWritableFile: 'open a file to change it', saveFile: 'save a file',
    openDirectory: 'open a folder' };

  const background = chrome.extension.getViews().find((view) => {
    try { return view.location.pathname === BACKGROUND_PATH; } catch (err) { return false; }
  });
  const runtime = background && background.__resocketRuntime;
  const request = runtime && runtime.fileSystem && runtime.fileSystem.request(new URLSearchParams(location.search).get('request'));

  document.addEventListener('DOMContentLoaded', () => {
    const status = document.getElementById('status');
    const fail = (message) => { status.textContent = message; };
    if (!request) { fail('Nothing to choose: the app is not waiting for an answer.'); return; }
    const name = app.name || request.app || 'The app';
    const asking = request.kind === 'permission'
      ? `use “${request.name}” again${request.mode === 'readwrite' ? ' and change it' : ''}` : WHAT[request.type];
    document.title = `${name} wants to ${asking}`;
    document.getElementById('title').textContent = document.title;
    document.getElementById('cancel').addEventListener('click', () => request.cancel());

    const button = document.getElementById('choose');
    const drop = document.getElementById('drop');
    if (request.kind === 'permission') {
      button.textContent = 'Allow';
      drop.hidden = true;
      button.addEventListener('click', () => {
        request.requestPermissionIn(window, request.handle, request.mode).then(request.answer, (err) => fail(err.message));
      });
      return;
    }
    button.textContent = request.type === 'openDirectory' ? 'Choose folder…' : 'Choose file…';
    drop.textContent = request.type === 'openDirectory' ? 'or drop the folder here' : 'or drop the file here';
    button.addEventListener('click', () => {
      request.showPicker(window, request).then(request.answer, (err) => {
        if (err.name === 'AbortError') request.cancel();
        else fail(err.message);
      });
    });

    const wanted = request.type === 'openDirectory' ? 'directory' : 'file';
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      // getAsFileSystemHandle must be called while the drop event is dispatched.
      const pending = Array.from(e.dataTransfer.items).filter((i) => i.kind === 'file').map((i) => i.getAsFileSystemHandle());
      Promise.all(pending).then(async (handles) => {
        handles = handles.filter(Boolean);
        if (!handles.length || handles.some((h) => h.kind !== wanted)) {
          fail(`Drop ${wanted === 'directory' ? 'a folder' : 'a file'}.`);
          return;
        }
        if (handles.length > 1 && !request.multiple) { fail('Drop only one.'); return; }
        if (request.writable) {
          for (const h of handles) {
            if (await h.queryPermission({ mode: 'readwrite' }) !== 'granted') await h.requestPermission({ mode: 'readwrite' });
          }
        }
        request.answer(handles.map(request.adopt));
      }).catch((err) => fail(err.message));
    });
  });
})();
