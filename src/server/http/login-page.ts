/**
 * The page at `/`: trades the `#token=` fragment for the session cookie, drops the fragment from the
 * address bar and history, then lists the sessions. Fragments never reach the server or a Referer,
 * so the token travels only in the POST body. Self-contained: no CDN, no external files.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { API, route } from './api-spec.js';

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 0.25rem 1rem 0.25rem 0; }
#status { color: #555; }
`;

const SCRIPT = `
const status = document.getElementById('status');
const table = document.getElementById('sessions');

async function login() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return true;
  history.replaceState(null, '', location.pathname + location.search);
  const response = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: decodeURIComponent(match[1]) }),
  });
  if (response.ok) return true;
  status.textContent = 'Login failed: the token is wrong or was rotated. Use the URL tower serve printed.';
  return false;
}

function statusOf(session) {
  if (session.status !== 'exited') return session.status;
  return 'exited(' + (session.exit_signal ? 'sig ' + session.exit_signal : session.exit_code) + ')';
}

async function listSessions() {
  const response = await fetch('/api/sessions');
  if (response.status === 401) {
    status.textContent = 'Not logged in: open the URL that tower serve printed (it ends in #token=...).';
    return;
  }
  if (!response.ok) {
    status.textContent = 'Could not list sessions (HTTP ' + response.status + ').';
    return;
  }
  const { sessions } = await response.json();
  status.textContent = sessions.length === 0 ? 'No sessions.' : sessions.length + ' session(s).';
  for (const session of sessions) {
    const row = table.insertRow();
    for (const value of [session.id, session.name ?? '', statusOf(session)]) {
      row.insertCell().textContent = value;
    }
  }
  table.hidden = sessions.length === 0;
}

login().then((ok) => ok && listSessions()).catch((error) => {
  status.textContent = 'Error: ' + error.message;
});
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tower</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Tower</h1>
<p id="status">Loading…</p>
<table id="sessions" hidden><tr><th>ID</th><th>Name</th><th>Status</th></tr></table>
<script>${SCRIPT}</script>
</body>
</html>
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const LOGIN_PAGE_CSP = [
  "default-src 'self'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function registerLoginPage(app: FastifyInstance): void {
  route(app, API.page, ({ reply }) =>
    reply.type('text/html; charset=utf-8').header('Content-Security-Policy', LOGIN_PAGE_CSP).send(HTML),
  );
}
