/*
 * resocket options page: host status (a hello of our own), a self-test through chrome.socket, approval of
 * non-loopback origins (host permission + dynamic content scripts) and a look-up of any origin's grant.
 *
 * Element ids are a contract with the browser E2E tests (tests/e2e): host-status (data-state checking|ok|error),
 * host-version, protocol-status, extension-rules, refresh-status, self-test, self-test-result (data-state
 * idle|running|ok|error), origin-input, approve-origin, approve-result, approved-origins (one li[data-origin]
 * per origin, each with button.revoke-origin), rules-origin-input, show-rules, rules-result, cli-commands,
 * refresh-grants, grants-result (data-state checking|ok|error), grants-list (one li[data-origin] per granted
 * origin, each with code.rules and, when the user has rules of their own there, button.revoke-grant; an origin
 * with managed rules also has li[data-managed] and span.managed naming them), grants-locked.
 *
 * Grants are listed and revoked with the host's grants.list / grants.revoke (docs/protocol.md, "Grants"),
 * which the host answers only for this extension's own pages. There is no way to grant from here: granting
 * stays with `resocket grant`. Managed grants (the administrator's, docs/deploy.md) are shown as such and
 * have no Revoke: the host would revoke only the user's rules anyway. "Remove" in the approved-origins list withdraws the extension's approval only.
 */
'use strict';

const HOST_NAME = 'org.resocket.host';
const PROTOCOL_VERSION = 1;
const CLIENT = `resocket-extension/${chrome.runtime.getManifest().version}`;

const $ = (id) => document.getElementById(id);

/** How long to wait for the host before reporting it as not answering (it normally answers in well under 1 s). */
const HOST_TIMEOUT_MS = 10000;

/**
 * Open a native port, send hello (naming `origin` when given), then `op` when given, and close the port.
 * Resolves with the reply to the last request sent (hello's when there is no op, or when hello failed).
 * @param {string} [origin]
 * @param {string} [op] @param {object} [opArgs]
 * @returns {Promise<{result?: object, error?: {code: string, message: string}, failure?: string}>}
 */
function hostRequest(origin, op, opArgs) {
  return new Promise((resolve) => {
    let port;
    let done = false;
    const finish = (answer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { port.disconnect(); } catch (err) { /* already closed */ }
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ failure: `the host did not answer within ${HOST_TIMEOUT_MS / 1000} s` }),
      HOST_TIMEOUT_MS);
    try {
      port = chrome.runtime.connectNative(HOST_NAME);
    } catch (err) {
      finish({ failure: String(err.message || err) });
      return;
    }
    port.onMessage.addListener((msg) => {
      if (msg.error) { finish({ error: msg.error }); return; }
      if (msg.id === 1 && op) {
        port.postMessage({ id: 2, op, args: opArgs || {} });
        return;
      }
      finish({ result: msg.result || {} });
    });
    port.onDisconnect.addListener(() => {
      const le = chrome.runtime.lastError;
      finish({ failure: (le && le.message) || 'Native host has exited.' });
    });
    const args = { protocol: PROTOCOL_VERSION, client: CLIENT };
    if (origin) args.origin = origin;
    port.postMessage({ id: 1, op: 'hello', args });
  });
}

/** @param {string} [origin] */
const hello = (origin) => hostRequest(origin);

/** What to tell the user when the host cannot be reached. @param {string} failure @returns {string} */
const hostFix = (failure) => (/not found|forbidden/i.test(failure)
  ? 'run `resocket install`, then `resocket doctor`' : 'run `resocket doctor`');

/** @param {{error?: {code: string, message: string}, failure?: string}} answer @returns {string} */
const describeFailure = (answer) => (answer.failure
  ? `host not available: ${answer.failure} (${hostFix(answer.failure)})`
  : `${answer.error.code}: ${answer.error.message}`);

const showRules = (rules) => (rules && rules.length ? rules.join(' ') : 'none (no grant)');

function setState(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

async function refreshStatus() {
  setState($('host-status'), 'checking', 'checking…');
  const answer = await hello();
  if (answer.failure) {
    setState($('host-status'), 'error', `not available: ${answer.failure} (${hostFix(answer.failure)})`);
    $('host-version').textContent = '–';
    $('protocol-status').textContent = '–';
    $('extension-rules').textContent = '–';
  } else if (answer.error) {
    setState($('host-status'), 'error', `${answer.error.code}: ${answer.error.message}`);
    $('protocol-status').textContent = answer.error.code === 'protocol_mismatch'
      ? `mismatch: ${answer.error.message}` : '–';
  } else {
    const r = answer.result;
    setState($('host-status'), 'ok', 'installed');
    $('host-version').textContent = `${r.host || 'resocket-host'} ${r.version || '?'}`;
    $('protocol-status').textContent = `${r.protocol} (matches the extension)`;
    $('extension-rules').textContent = showRules(r.rules);
  }
}

/** Self-test: create a UDP socket, getInfo, destroy; through the same chrome.socket shim pages use. */
function selfTest() {
  const out = $('self-test-result');
  setState(out, 'running', 'running…');
  chrome.socket.create('udp', (createInfo) => {
    const le = chrome.runtime.lastError;
    if (le) { setState(out, 'error', `create failed: ${le.message}`); return; }
    chrome.socket.getInfo(createInfo.socketId, (info) => {
      const err = chrome.runtime.lastError;
      chrome.socket.destroy(createInfo.socketId);
      if (err || !info || info.socketType !== 'udp') {
        setState(out, 'error', `getInfo failed: ${err ? err.message : JSON.stringify(info)}`);
      } else {
        setState(out, 'ok', `ok: created UDP socket ${createInfo.socketId}, getInfo ${JSON.stringify(info)}`);
      }
    });
  });
}

/** The grants list: one row per granted origin with its rules and a Revoke button (grants.list). */
async function renderGrants() {
  const out = $('grants-result');
  setState(out, 'checking', 'loading…');
  const answer = await hostRequest(undefined, 'grants.list');
  const list = $('grants-list');
  list.textContent = '';
  if (!answer.result) {
    setState(out, 'error', describeFailure(answer));
    return;
  }
  const granted = answer.result.origins || {};
  const managed = answer.result.managed || {};
  $('grants-locked').hidden = !answer.result.locked;
  const origins = Object.keys(granted).sort();
  for (const origin of origins) {
    const li = document.createElement('li');
    li.dataset.origin = origin;
    const name = document.createElement('code');
    name.textContent = origin;
    const rules = document.createElement('code');
    rules.className = 'rules';
    rules.textContent = showRules(granted[origin]);
    li.append(name, rules);
    const byAdmin = managed[origin] || [];
    if (byAdmin.length) {
      li.dataset.managed = byAdmin.length === granted[origin].length ? 'all' : 'some';
      const note = document.createElement('span');
      note.className = 'managed';
      note.textContent = byAdmin.length === granted[origin].length
        ? 'managed by your administrator'
        : `managed by your administrator: ${byAdmin.join(' ')}`;
      li.append(note);
    }
    if (granted[origin].some((rule) => !byAdmin.includes(rule))) {
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.className = 'revoke-grant';
      revoke.textContent = 'Revoke';
      revoke.title = byAdmin.length
        ? `Remove your rules for ${origin}; the managed ones stay (as: resocket revoke ${origin})`
        : `Remove every rule granted to ${origin} (as: resocket revoke ${origin})`;
      revoke.addEventListener('click', () => revokeGrant(origin));
      li.append(revoke);
    }
    list.append(li);
  }
  setState(out, 'ok', origins.length ? `${origins.length} origin(s) granted` : 'no grants yet: resocket grant ORIGIN RULE...');
}

async function revokeGrant(origin) {
  const answer = await hostRequest(undefined, 'grants.revoke', { origin });
  await renderGrants();
  if (!answer.result) setState($('grants-result'), 'error', `could not revoke ${origin}: ${describeFailure(answer)}`);
  else if (answer.result.revoked && answer.result.managed) {
    setState($('grants-result'), 'ok', `Revoked your rules for ${origin}; its managed rules stay: reload its pages`);
  } else if (answer.result.revoked) setState($('grants-result'), 'ok', `Revoked ${origin}: reload its pages`);
  else setState($('grants-result'), 'ok', `${origin} had no grant`);
}

async function renderApprovedOrigins() {
  const list = $('approved-origins');
  list.textContent = '';
  for (const origin of await resocketApprovedOrigins()) {
    const li = document.createElement('li');
    li.dataset.origin = origin;
    const name = document.createElement('code');
    name.textContent = origin;
    const rules = document.createElement('code');
    rules.className = 'rules';
    rules.textContent = '…';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'revoke-origin';
    remove.textContent = 'Remove';
    remove.title = `Stop serving ${origin}. To remove its grant as well: resocket revoke ${origin}`;
    remove.addEventListener('click', () => removeOrigin(origin));
    li.append(name, rules, remove);
    list.append(li);
    hello(origin).then((a) => { rules.textContent = a.result ? showRules(a.result.rules) : '(host not available)'; });
  }
}

async function approveOrigin(event) {
  event.preventDefault();
  const out = $('approve-result');
  let origin;
  try {
    origin = resocketNormalizeOrigin($('origin-input').value);
  } catch (err) {
    out.textContent = err.message;
    return;
  }
  // permissions.request must run in the click's user gesture: call it before any other await.
  const granted = await chrome.permissions.request({ origins: [resocketMatchPattern(origin)] });
  if (!granted) { out.textContent = `Chrome did not grant access to ${origin}`; return; }
  await resocketSyncApprovedOrigins([...(await resocketApprovedOrigins()), origin]);
  out.textContent = `Approved ${origin}: reload its pages. Grant rules with: resocket grant ${origin} RULE...`;
  $('origin-input').value = '';
  renderApprovedOrigins();
}

async function removeOrigin(origin) {
  const remaining = (await resocketApprovedOrigins()).filter((o) => o !== origin);
  const pattern = resocketMatchPattern(origin);
  if (!remaining.some((o) => resocketMatchPattern(o) === pattern)) {
    await chrome.permissions.remove({ origins: [pattern] });
  }
  await resocketSyncApprovedOrigins(remaining);
  $('approve-result').textContent = `Removed ${origin}. Its grant stays until: resocket revoke ${origin}`;
  renderApprovedOrigins();
}

async function lookUpRules(event) {
  event.preventDefault();
  const out = $('rules-result');
  let origin;
  try {
    origin = resocketNormalizeOrigin($('rules-origin-input').value);
  } catch (err) {
    out.textContent = err.message;
    return;
  }
  const a = await hello(origin);
  out.textContent = a.result ? `${a.result.origin || origin}: ${showRules(a.result.rules)}` : describeFailure(a);
}

$('refresh-status').addEventListener('click', () => { refreshStatus(); renderGrants(); });
$('self-test').addEventListener('click', selfTest);
$('approve-form').addEventListener('submit', approveOrigin);
$('rules-form').addEventListener('submit', lookUpRules);
$('refresh-grants').addEventListener('click', renderGrants);
refreshStatus();
renderApprovedOrigins();
renderGrants();
