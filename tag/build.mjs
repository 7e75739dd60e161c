// Builds the tag: tag/src/*.js (in the order below) into one IIFE, tag/tag.js, and its
// minified form, tag/dist/tag.min.js (terser, a devDependency); and the action renderers,
// tag/src/actions.js, into tag/actions.js and tag/dist/actions.min.js. All are committed:
// the server compiles the minified ones into its binary, and a node test fails when any is
// stale. `node build.mjs --check` only compares.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCES = ['util', 'events', 'ids', 'hooks', 'transport', 'sdes', 'render', 'main'];

// V8's explicit compile hint (Chromium 136+): compile every function of the script while it
// streams in, off the main thread, rather than each one on the main thread at its first
// call. The tag calls nearly all of its functions before the first engagement shows.
// Ignored elsewhere. It has to come before the first token, so it is the first line.
const COMPILE_HINT = '//# allFunctionsCalledOnLoad\n';

// The action renderers (tag/src/actions.js): a script of their own, loaded by the tag only
// when an engagement with an action shows, so they do not count against its size.
export function buildActionsSource() {
  return '/*! Engage tag actions, Apache-2.0, built from tag/src/actions.js. */\n' + readFileSync(join(here, 'src', 'actions.js'), 'utf8');
}

export function buildSource() {
  const parts = SOURCES.map((name) => `// ---- src/${name}.js\n` + readFileSync(join(here, 'src', name + '.js'), 'utf8'));
  return (
    COMPILE_HINT +
    '/*! Engage tag, Apache-2.0, built from tag/src. */\n' +
    '(() => {\n' +
    "'use strict';\n" +
    parts.join('\n') +
    '})();\n'
  );
}

export async function buildMinified(source, hint = COMPILE_HINT) {
  const { minify } = await import('terser');
  const out = await minify(source, {
    ecma: 2020,
    compress: { passes: 2, ecma: 2020 },
    mangle: true,
    format: { comments: /^!/, ascii_only: true }, // served or saved with any charset, it reads the same
  });
  return hint + out.code + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const source = buildSource();
  const minified = await buildMinified(source);
  const actions = buildActionsSource();
  const targets = [
    [join(here, 'tag.js'), source],
    [join(here, 'dist', 'tag.min.js'), minified],
    [join(here, 'actions.js'), actions],
    [join(here, 'dist', 'actions.min.js'), await buildMinified(actions, '')],
  ];
  let stale = 0;
  for (const [path, text] of targets) {
    if (check) {
      let old = null;
      try {
        old = readFileSync(path, 'utf8');
      } catch (e) {
        // missing counts as stale
      }
      if (old !== text) {
        console.error(`${path} is stale: run \`node build.mjs\` in tag/`);
        stale++;
      }
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      console.log(`${path}: ${Buffer.byteLength(text)} bytes`);
    }
  }
  process.exit(stale ? 1 : 0);
}
