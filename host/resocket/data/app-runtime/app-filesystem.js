/*
 * resocket app runtime, part two: chrome.fileSystem of Chrome Apps, rebuilt on the File System Access API.
 *
 * Loaded in every page of a converted app right after app-runtime.js (which it builds on). An app whose
 * manifest has no fileSystem permission gets no chrome.fileSystem, as in Chrome.
 *
 * Design rules:
 *  1. Everything lives in the background page (app-runtime.js rule 2): handles, entries, writers, the
 *     retained list. A window's chrome.fileSystem forwards to it, so every Entry is an object of the
 *     background page's realm and keeps working after the window that chose it has closed, as entries did
 *     in Chrome Apps. A handle that a picker returns in another page is structured-cloned into the
 *     background page at once (`adopt`): the clone does not depend on the page it came from.
 *  2. The browser's pickers need transient user activation in the page that shows them; Chrome Apps'
 *     chooseEntry did not. A call made while its window has activation (in a click handler) shows the
 *     browser's picker there. Any other call opens resocket/choose.html, a small window that asks the user
 *     to choose (its button shows the picker) or to drop the file or folder on it. A permission the browser
 *     wants re-asked (restoreEntry after a restart, getWritableEntry) is asked the same way.
 *  3. Chrome's own answers: its lastError strings and permission checks (fileSystem.write,
 *     fileSystem.directory) from extensions/browser/api/file_system/file_system_api.cc, and its callback
 *     shapes (chooseEntry calls back (entry) or, with acceptsMultiple, (undefined, fileEntries)).
 *  4. Entries have the shapes of the FileSystem API that Chrome Apps got (FileEntry, DirectoryEntry,
 *     DirectoryReader, FileWriter with success/error callbacks and on* events); errors are DOMExceptions
 *     with that API's names (NotFoundError, TypeMismatchError, InvalidModificationError, ...).
 *  5. Retained entries are kept in IndexedDB (handles are serializable) under ids that survive a restart.
 */
(function installFileSystem(global) {
  'use strict';

  const app = global.__resocketApp || {};
  const rt = global.__resocketRuntime;
  const chrome = global.chrome;
  if (!rt || !rt.util || !Array.isArray(app.fileSystem)) return;
  const { define, withLastError, makeEvent } = rt.util;

  // Chrome's messages (file_system_api.cc).
  const INVALID_CALLING_PAGE = "Invalid calling page. This function can't be called from a background page.";
  const USER_CANCELLED = 'User cancelled';
  const REQUIRES_WRITE = 'Operation requires fileSystem.write permission';
  const REQUIRES_DIRECTORY = 'Operation requires fileSystem.directory permission';
  const MULTIPLE_UNSUPPORTED = "acceptsMultiple: true is only supported for 'openFile'";
  const UNKNOWN_ID = 'Unknown id';
  const NOT_ON_THIS_PLATFORM = 'Operation not supported on the current platform.';
  const writableFileError = (name) => `Error opening ${name}`;

  const TYPES = ['openFile', 'openWritableFile', 'saveFile', 'openDirectory'];
  const DB_NAME = 'resocket-fileSystem';
  const STORE = 'retained';

  // ---- the background page: the one implementation (rule 1) ----

  function backgroundFileSystem() {
    const canWrite = app.fileSystem.includes('write');
    const canDirectory = app.fileSystem.includes('directory');
    const entryData = new WeakMap(); // Entry -> {handle, root, path, writable}
    const retainedIds = new WeakMap(); // Entry -> id
    const retained = new Map(); // id -> record, this session's (IndexedDB holds them across restarts)
    const requests = new Map(); // id -> a request answered in resocket/choose.html
    let nextRequest = 0;

    const fileError = (name, message) => new DOMException(message || name, name);
    /** A DOMException of this realm with the same name (an error from another page's realm, or a TypeError). */
    const asFileError = (err) => fileError(err && err.name && err.name !== 'Error' ? err.name : 'InvalidStateError',
      err && err.message ? err.message : String(err));
    /** The handle in this realm (rule 1). */
    const adopt = (handle) => global.structuredClone(handle);

    function settle(promise, success, error) {
      promise.then((value) => { if (typeof success === 'function') success(value); }, (err) => {
        if (typeof error === 'function') error(asFileError(err));
        else console.error('chrome.fileSystem entry:', err);
      });
    }

    // -- entries (rule 4) --

    class Entry {
      get isFile() { return entryData.get(this).handle.kind === 'file'; }
      get isDirectory() { return entryData.get(this).handle.kind === 'directory'; }
      get name() { return entryData.get(this).handle.name; }
      get fullPath() { const d = entryData.get(this); return '/' + [d.root.name, ...d.path].join('/'); }
      get filesystem() {
        const d = entryData.get(this);
        return { name: `resocket_${d.root.name}`, root: makeEntry(d.root, d.root, [], d.writable) };
      }
      toURL() { return ''; } // filesystem: URLs have no File System Access counterpart
      getMetadata(success, error) {
        const d = entryData.get(this);
        settle(d.handle.kind === 'file'
          ? d.handle.getFile().then((f) => ({ modificationTime: new Date(f.lastModified), size: f.size }))
          : Promise.resolve({ modificationTime: new Date(), size: 0 }), success, error);
      }
      getParent(success, error) {
        const d = entryData.get(this);
        settle(d.path.length === 0 ? Promise.resolve(this) : walk(d.root, d.path.slice(0, -1))
          .then((dir) => makeEntry(dir, d.root, d.path.slice(0, -1), d.writable)), success, error);
      }
      remove(success, error) { settle(removeEntry(this, false), success, error); }
      moveTo(parent, newName, success, error) { unsupported('moveTo', error); }
      copyTo(parent, newName, success, error) { unsupported('copyTo', error); }
    }

    function unsupported(what, error) {
      const err = fileError('NotSupportedError', `Entry.${what} is not available in a converted app`);
      setTimeout(() => { if (typeof error === 'function') error(err); else console.error(err.message); }, 0);
    }

    class FileEntry extends Entry {
      file(success, error) { settle(entryData.get(this).handle.getFile(), success, error); }
      createWriter(success, error) {
        const d = entryData.get(this);
        settle(d.writable ? d.handle.getFile().then((f) => new FileWriter(d.handle, f.size))
          : Promise.reject(fileError('SecurityError', `${d.handle.name} was not opened for writing`)), success, error);
      }
    }

    class DirectoryEntry extends Entry {
      createReader() {
        const d = entryData.get(this);
        let done = false;
        return {
          // One batch with everything, then an empty one: what a readEntries loop waits for.
          readEntries(success, error) {
            if (done) { settle(Promise.resolve([]), success, error); return; }
            done = true;
            settle((async () => {
              const out = [];
              for await (const [name, handle] of d.handle.entries()) {
                out.push(makeEntry(handle, d.root, d.path.concat(name), d.writable));
              }
              return out;
            })(), success, error);
          },
        };
      }
      getFile(path, options, success, error) { settle(lookup(this, path, options, 'file'), success, error); }
      getDirectory(path, options, success, error) { settle(lookup(this, path, options, 'directory'), success, error); }
      removeRecursively(success, error) { settle(removeEntry(this, true), success, error); }
    }

    function makeEntry(handle, root, path, writable) {
      const entry = handle.kind === 'directory' ? new DirectoryEntry() : new FileEntry();
      entryData.set(entry, { handle, root, path, writable: !!writable });
      return entry;
    }

    async function walk(root, names) {
      let dir = root;
      for (const name of names) dir = await dir.getDirectoryHandle(name);
      return dir;
    }

    /** DirectoryEntry.getFile/getDirectory: a path relative to the entry or absolute (from the chosen root). */
    async function lookup(dirEntry, path, options, kind) {
      const d = entryData.get(dirEntry);
      const text = String(path);
      const names = [];
      for (const part of (text.startsWith('/') ? [] : d.path).concat(text.split('/'))) {
        if (part === '..') names.pop();
        else if (part && part !== '.') names.push(part);
      }
      if (names.length === 0) {
        if (kind === 'directory') return makeEntry(d.root, d.root, [], d.writable);
        throw fileError('TypeMismatchError', `${text} is a directory`);
      }
      const create = !!(options && options.create);
      if (create && !d.writable) throw fileError('SecurityError', `${d.root.name} was not opened for writing`);
      const parent = await walk(d.root, names.slice(0, -1));
      const leaf = names[names.length - 1];
      const get = (opts) => (kind === 'file' ? parent.getFileHandle(leaf, opts) : parent.getDirectoryHandle(leaf, opts));
      let handle = null;
      try {
        handle = await get();
      } catch (err) {
        if (err.name !== 'NotFoundError') throw err;
      }
      if (handle && create && options.exclusive) throw fileError('InvalidModificationError', `${text} exists`);
      if (!handle) {
        if (!create) throw fileError('NotFoundError', `${text} does not exist`);
        handle = await get({ create: true });
      }
      return makeEntry(handle, d.root, names, d.writable);
    }

    async function removeEntry(entry, recursive) {
      const d = entryData.get(entry);
      if (!d.writable) throw fileError('SecurityError', `${d.root.name} was not opened for writing`);
      if (d.path.length === 0) throw fileError('InvalidModificationError', 'the chosen entry itself cannot be removed');
      const parent = await walk(d.root, d.path.slice(0, -1));
      await parent.removeEntry(d.handle.name, { recursive });
    }

    /** FileWriter of the FileSystem API on a file handle: each write or truncate is one createWritable(). */
    class FileWriter {
      constructor(handle, length) {
        Object.assign(this, { INIT: 0, WRITING: 1, DONE: 2, readyState: 0, position: 0, length, error: null,
          onwritestart: null, onprogress: null, onwrite: null, onabort: null, onerror: null, onwriteend: null });
        Object.defineProperty(this, 'handle', { value: handle });
        Object.defineProperty(this, 'listeners', { value: new Map() });
        Object.defineProperty(this, 'aborted', { value: false, writable: true });
      }
      addEventListener(type, fn) {
        if (!this.listeners.has(type)) this.listeners.set(type, []);
        this.listeners.get(type).push(fn);
      }
      removeEventListener(type, fn) {
        const list = this.listeners.get(type) || [];
        if (list.includes(fn)) list.splice(list.indexOf(fn), 1);
      }
      fire(type, loaded, total) {
        const event = { type, target: this, loaded, total, lengthComputable: true };
        for (const fn of [this[`on${type}`], ...(this.listeners.get(type) || [])]) {
          if (typeof fn !== 'function') continue;
          try { fn.call(this, event); } catch (err) { console.error(`Error in FileWriter on${type}:`, err); }
        }
      }
      run(size, operation) {
        if (this.readyState === this.WRITING) throw fileError('InvalidStateError', 'the FileWriter is busy');
        this.readyState = this.WRITING;
        this.error = null;
        this.aborted = false;
        Promise.resolve().then(() => { this.fire('writestart', 0, size); return operation(); }).then(() => {
          if (this.aborted) return;
          this.readyState = this.DONE;
          for (const type of ['progress', 'write', 'writeend']) this.fire(type, size, size);
        }, (err) => {
          if (this.aborted) return;
          this.readyState = this.DONE;
          this.error = asFileError(err);
          this.fire('error', 0, size);
          this.fire('writeend', 0, size);
        });
      }
      async change(edit) {
        const writable = await this.handle.createWritable({ keepExistingData: true });
        try {
          await edit(writable);
          await writable.close();
        } catch (err) {
          await writable.abort().catch(() => {});
          throw err;
        }
      }
      write(data) {
        // A Blob from any page (instanceof would reject another realm's).
        if (!data || typeof data.size !== 'number' || typeof data.slice !== 'function') {
          throw new TypeError("Failed to execute 'write' on 'FileWriter': parameter 1 is not of type 'Blob'.");
        }
        const position = this.position;
        this.run(data.size, () => this.change((w) => w.write({ type: 'write', position, data })).then(() => {
          this.position = position + data.size;
          this.length = Math.max(this.length, this.position);
        }));
      }
      truncate(size) {
        this.run(0, () => this.change((w) => w.truncate(size)).then(() => {
          this.length = size;
          this.position = Math.min(this.position, size);
        }));
      }
      seek(offset) {
        if (this.readyState === this.WRITING) throw fileError('InvalidStateError', 'the FileWriter is busy');
        this.position = offset < 0 ? Math.max(0, this.length + offset) : Math.min(offset, this.length);
      }
      abort() {
        if (this.readyState !== this.WRITING) return;
        this.aborted = true;
        this.readyState = this.DONE;
        this.error = fileError('AbortError', 'aborted');
        this.fire('abort', 0, 0);
        this.fire('writeend', 0, 0);
      }
    }

    // -- pickers and permission prompts (rule 2) --

    function hasActivation(win) {
      try { return !!(win.navigator.userActivation && win.navigator.userActivation.isActive); } catch (err) { return false; }
    }

    /** chooseEntry's accepts -> the File System Access `types` (extensions need a MIME type key). */
    function pickerTypes(options) {
      const types = [];
      for (const accept of options.accepts || []) {
        const extensions = (accept.extensions || []).map((e) => `.${String(e).replace(/^\./, '')}`);
        const mimes = (accept.mimeTypes || []).length ? accept.mimeTypes : ['application/octet-stream'];
        const map = {};
        for (const mime of mimes) map[mime] = extensions;
        types.push(accept.description ? { description: accept.description, accept: map } : { accept: map });
      }
      return types;
    }

    /** Show the browser's picker in `win` (which must have user activation); the handles, in this realm. */
    async function showPicker(win, request) {
      const options = request.options;
      const types = pickerTypes(options);
      const common = types.length ? { types, excludeAcceptAllOption: options.acceptsAllTypes === false } : {};
      let handles;
      if (request.type === 'openDirectory') {
        handles = [await win.showDirectoryPicker({ mode: request.writable ? 'readwrite' : 'read' })];
      } else if (request.type === 'saveFile') {
        const suggestedName = options.suggestedName ? String(options.suggestedName).replace(/%/g, '_') : undefined;
        handles = [await win.showSaveFilePicker(Object.assign({ suggestedName }, common))];
      } else {
        handles = await win.showOpenFilePicker(Object.assign({ multiple: request.multiple }, common));
        if (request.writable) for (const h of handles) await h.requestPermission({ mode: 'readwrite' });
      }
      return handles.map(adopt);
    }

    /** Ask for `mode` on `handle` from `win` (a click there is the activation the browser wants). */
    function requestPermissionIn(win, handle, mode) {
      return win.structuredClone(handle).requestPermission({ mode });
    }

    /** A request answered by the user in resocket/choose.html: resolves with its answer, null when cancelled. */
    function askInChooser(request) {
      return new Promise((resolve, reject) => {
        const id = String(++nextRequest);
        const finish = (answer) => {
          if (!requests.has(id)) return;
          requests.delete(id);
          resolve(answer);
          if (request.windowId !== undefined) chrome.windows.remove(request.windowId, () => void chrome.runtime.lastError);
        };
        Object.assign(request, { id, app: app.name, answer: finish, cancel: () => finish(null), showPicker, requestPermissionIn,
          adopt });
        requests.set(id, request);
        chrome.windows.create({ url: chrome.runtime.getURL(`resocket/choose.html?request=${id}`), type: 'popup',
          width: 520, height: 360 }, (w) => {
          const err = chrome.runtime.lastError;
          if (err || !w) { requests.delete(id); reject(new Error(err ? err.message : 'no chooser window')); return; }
          request.windowId = w.id;
          if (!requests.has(id)) chrome.windows.remove(w.id, () => void chrome.runtime.lastError);
        });
      });
    }
    chrome.windows.onRemoved.addListener((windowId) => {
      for (const request of Array.from(requests.values())) if (request.windowId === windowId) request.cancel();
    });

    async function pick(caller, request) {
      if (hasActivation(caller) && typeof caller.showOpenFilePicker === 'function') {
        try {
          return await showPicker(caller, request);
        } catch (err) {
          if (err.name === 'AbortError') return null; // the user closed the picker
          if (err.name !== 'SecurityError' && err.name !== 'NotAllowedError') throw err;
          // the activation was used up: ask in the chooser window instead
        }
      }
      return askInChooser(request);
    }

    /** 'granted' once the user allowed `mode` on the record's handle (asked now if the browser wants it). */
    async function permission(caller, record, mode) {
      const state = await record.handle.queryPermission({ mode });
      if (state === 'granted') return state;
      if (hasActivation(caller)) {
        try { return await requestPermissionIn(caller, record.handle, mode); } catch (err) { /* ask below */ }
      }
      return (await askInChooser({ kind: 'permission', mode, name: record.handle.name, handle: record.handle })) || 'denied';
    }

    // -- chrome.fileSystem, each call as (caller window, args..., done(error, ...values)) --

    function chooseEntry(caller, options, done) {
      options = options || {};
      const type = options.type || 'openFile';
      if (!TYPES.includes(type)) {
        throw new TypeError('Error in invocation of fileSystem.chooseEntry: Error at property \'type\': ' +
          `Value must be one of ${TYPES.slice().sort().join(', ')}.`);
      }
      const multiple = !!options.acceptsMultiple;
      if ((type === 'openWritableFile' || type === 'saveFile') && !canWrite) { done(REQUIRES_WRITE); return; }
      if (type === 'openDirectory' && !canDirectory) { done(REQUIRES_DIRECTORY); return; }
      if (multiple && type !== 'openFile' && type !== 'openWritableFile') { done(MULTIPLE_UNSUPPORTED); return; }
      if (caller === global) { done(INVALID_CALLING_PAGE); return; }
      const request = { kind: 'choose', type, multiple, options, writable: canWrite && type !== 'openFile' };
      pick(caller, request).then(async (handles) => {
        if (!handles || !handles.length) { done(USER_CANCELLED); return; }
        const entries = [];
        for (const handle of handles) {
          const writable = request.writable && await handle.queryPermission({ mode: 'readwrite' }) === 'granted';
          entries.push(makeEntry(handle, handle, [], writable));
        }
        if (multiple) done(null, undefined, entries);
        else done(null, entries[0]);
      }).catch((err) => done(err.message || String(err)));
    }

    function dataOf(entry, done) {
      const d = entry && entryData.get(entry);
      if (!d) done('Invalid parameters: not an entry given by chrome.fileSystem');
      return d;
    }

    function getDisplayPath(caller, entry, done) {
      const d = dataOf(entry, done);
      if (d) done(null, [d.root.name, ...d.path].join('/'));
    }

    function isWritableEntry(caller, entry, done) {
      const d = dataOf(entry, done);
      if (d) done(null, d.writable);
    }

    function getWritableEntry(caller, entry, done) {
      const d = dataOf(entry, done);
      if (!d) return;
      if (!canWrite) { done(REQUIRES_WRITE); return; }
      if (d.handle.kind === 'directory' && !canDirectory) { done(REQUIRES_DIRECTORY); return; }
      permission(caller, d, 'readwrite').then((state) => {
        if (state !== 'granted') { done(writableFileError(d.handle.name)); return; }
        done(null, makeEntry(d.handle, d.root, d.path, true));
      }, (err) => done(err.message));
    }

    let db = null;
    function store(mode, use) {
      db = db || new Promise((resolve, reject) => {
        const open = indexedDB.open(DB_NAME, 1);
        open.onupgradeneeded = () => open.result.createObjectStore(STORE);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      return db.then((conn) => new Promise((resolve, reject) => {
        const tx = conn.transaction(STORE, mode);
        const req = use(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = tx.onabort = () => reject(tx.error);
      }));
    }

    function retainEntry(caller, entry) {
      const d = entryData.get(entry);
      if (!d) { console.error('chrome.fileSystem.retainEntry: not an entry given by chrome.fileSystem'); return undefined; }
      let id = retainedIds.get(entry);
      if (!id) {
        id = `${global.crypto.randomUUID()}:${[d.root.name, ...d.path].join('/')}`;
        retainedIds.set(entry, id);
      }
      const record = { handle: d.handle, root: d.root, path: d.path, writable: d.writable };
      retained.set(id, record);
      store('readwrite', (s) => s.put(record, id)).catch((err) => console.error(`retainEntry ${id}: ${err}`));
      return id;
    }

    function lookupRetained(id) {
      return retained.has(id) ? Promise.resolve(retained.get(id))
        : store('readonly', (s) => s.get(String(id))).then((record) => record || null);
    }

    function isRestorable(caller, id, done) {
      lookupRetained(id).then((record) => done(null, !!record), (err) => done(String(err)));
    }

    function restoreEntry(caller, id, done) {
      lookupRetained(id).then(async (record) => {
        if (!record) { done(UNKNOWN_ID); return; }
        let writable = record.writable;
        let state = await permission(caller, record, writable ? 'readwrite' : 'read');
        if (state !== 'granted' && writable) {
          writable = false; // read access may still be there
          state = await record.handle.queryPermission({ mode: 'read' });
        }
        if (state !== 'granted') { done(USER_CANCELLED); return; }
        const entry = makeEntry(record.handle, record.root, record.path, writable);
        retainedIds.set(entry, id);
        done(null, entry);
      }).catch((err) => done(err.message || String(err)));
    }

    function notOnThisPlatform(caller, ...args) { args[args.length - 1](NOT_ON_THIS_PLATFORM); }

    return {
      chooseEntry, getDisplayPath, isWritableEntry, getWritableEntry, retainEntry, isRestorable, restoreEntry,
      requestFileSystem: notOnThisPlatform, getVolumeList: notOnThisPlatform,
      /** The pending request of resocket/choose.html?request=ID, or undefined. */
      request: (id) => requests.get(String(id)),
    };
  }

  if (rt.isBackground) rt.fileSystem = backgroundFileSystem();

  // ---- chrome.fileSystem in every page: forwarded to the background page ----

  function backgroundFs() {
    const bg = rt.findBackground();
    const fs = bg && bg.__resocketRuntime && bg.__resocketRuntime.fileSystem;
    if (fs) return Promise.resolve(fs);
    return rt.ensureBackground().then((view) => view.__resocketRuntime.fileSystem);
  }

  const fileSystemNs = {};
  for (const name of ['chooseEntry', 'getDisplayPath', 'isWritableEntry', 'getWritableEntry', 'isRestorable',
    'restoreEntry', 'requestFileSystem', 'getVolumeList']) {
    fileSystemNs[name] = function (...args) {
      const callback = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      // Values come back as objects of the background page; lastError is set in this page, where the callback reads it.
      const done = (error, ...values) => withLastError(error, () => { if (callback) callback(...values); });
      const call = (fs) => fs[name](global, ...args, done);
      const bg = rt.findBackground();
      const now = bg && bg.__resocketRuntime && bg.__resocketRuntime.fileSystem;
      // Synchronously when possible: a picker needs the user activation of the click that called.
      if (now) { call(now); return; }
      backgroundFs().then(call, (err) => done(err.message));
    };
    Object.defineProperty(fileSystemNs[name], 'name', { value: name });
  }
  fileSystemNs.retainEntry = function retainEntry(entry) {
    const bg = rt.findBackground();
    const fs = bg && bg.__resocketRuntime && bg.__resocketRuntime.fileSystem;
    if (!fs) { console.error('chrome.fileSystem.retainEntry: the background page is not running'); return undefined; }
    return fs.retainEntry(global, entry);
  };
  fileSystemNs.onVolumeListChanged = makeEvent('fileSystem.onVolumeListChanged'); // Chrome OS only: never fires
  define(chrome, 'fileSystem', fileSystemNs);
})(typeof globalThis !== 'undefined' ? globalThis : this);
