// The committed builds match tag/src, and the minified build (what the server serves)
// behaves like the source build.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Browser, plain, SOURCE } = require('./helpers.js');

test('tag.js and dist/tag.min.js are built from the current src/ (run `node build.mjs` in tag/)', async () => {
  const build = await import(pathToFileURL(path.join(__dirname, '..', 'build.mjs')).href);
  const source = build.buildSource();
  assert.ok(source === SOURCE.source, 'tag/tag.js is stale: run `node build.mjs` in tag/ and commit the result');
  const minified = await build.buildMinified(source);
  assert.ok(minified === SOURCE.min, 'tag/dist/tag.min.js is stale: run `node build.mjs` in tag/ and commit the result');
});

test('actions.js and dist/actions.min.js are built from the current src/actions.js, in ASCII', async () => {
  const fs = require('node:fs');
  const build = await import(pathToFileURL(path.join(__dirname, '..', 'build.mjs')).href);
  const source = build.buildActionsSource();
  assert.ok(source === fs.readFileSync(path.join(__dirname, '..', 'actions.js'), 'utf8'), 'tag/actions.js is stale: run `node build.mjs` in tag/');
  const minified = fs.readFileSync(path.join(__dirname, '..', 'dist', 'actions.min.js'), 'utf8');
  assert.ok((await build.buildMinified(source, '')) === minified, 'tag/dist/actions.min.js is stale: run `node build.mjs` in tag/');
  assert.ok(/^[\x00-\x7f]*$/.test(minified), 'dist/actions.min.js has a non-ASCII character');
});

test('the minified build runs the bus, SDEs, transport and rendering like the source', async () => {
  const b = new Browser();
  b.server.decision = {
    engagements: [
      { campaignId: 1, engagementId: 2, engagementRevision: 3, engagementType: 2, contextId: 'c', zoneId: null, state: 1, confKey: '1_2_3', tglName: 'toaster', engagementName: 'n', timeoutSeconds: null, content: {} },
    ],
  };
  const w = b.load({ build: 'min' });
  const heard = [];
  w.lpTag.events.bind('lp_sdes', 'VAR_ADDED', (d) => heard.push(d.type));
  w.lpTag.sdes.push({ type: 'cart', total: 1 });
  await b.clock.advance(0);
  b.showAll();
  await b.clock.advance(1000);
  assert.deepEqual(heard, ['cart']);
  assert.deepEqual(
    b.server.items('events').map((x) => x.item.eventName),
    ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION']
  );
  assert.equal(b.server.items('sdes').length, 1);
  assert.equal(w.document.querySelectorAll('[data-engagement-id]').length, 1);
  assert.deepEqual(plain(w.lpTag.events.hasFired('lp_SMT', 'MONITORING_STATE'))[0].data, { active: true });
  assert.deepEqual(b.errors(), []);
});

test('the minified build is ASCII, so it reads the same whatever charset a page or proxy assumes', () => {
  assert.ok(/^[\x00-\x7f]*$/.test(SOURCE.min), 'dist/tag.min.js has a non-ASCII character');
});

test('the minified build stays within the 8 KB min+gzip budget', () => {
  const gz = require('node:zlib').gzipSync(SOURCE.min, { level: 9 }).length;
  assert.ok(gz <= 8192, `dist/tag.min.js is ${gz} bytes gzipped`);
});
