// scripts/serve.mjs: MIME types the page needs, and nothing outside www/.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startServer } from './harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server.stop());

/** A raw GET, so that paths reach the server exactly as written (no client normalisation). */
function get(path) {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'] }));
    })
      .on('error', reject)
      .end();
  });
}

it('serves the page with the right content types', async () => {
  const expected = {
    '/': 'text/html; charset=utf-8',
    '/index.html': 'text/html; charset=utf-8',
    '/app.js': 'text/javascript; charset=utf-8',
    '/style.css': 'text/css; charset=utf-8',
    '/samples/dev002.png': 'image/png',
    '/pkg/ecg_digitizer_bg.wasm': 'application/wasm',
    '/pkg/ecg_digitizer.js?instance=3': 'text/javascript; charset=utf-8',
  };
  for (const [path, type] of Object.entries(expected)) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.type, type, path);
  }
});

it('refuses paths outside www/ and answers 404 for missing files', async () => {
  for (const path of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/package.json', '/samples/../../Cargo.toml', '/..\\Cargo.toml']) {
    assert.equal((await get(path)).status, 403, path);
  }
  assert.equal((await get('/no-such-file.js')).status, 404);
  assert.equal((await get('/%00')).status, 403);
});

it('sends the same Content-Security-Policy as the page declares', async () => {
  const res = await fetch(server.url);
  const html = await res.text();
  const meta = html.match(/http-equiv="Content-Security-Policy"\s+content="([^"]+)"/)[1];
  assert.equal(res.headers.get('content-security-policy'), meta);
});
