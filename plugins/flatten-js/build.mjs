// Builds flatten.js into a WebAssembly component for the `transformer` world
// with componentize-js, offline (SpiderMonkey ships inside the npm package).
//
// usage: node build.mjs OUT.wasm   (scripts/build-plugins.sh runs it)
//
// WASI features the engine would otherwise import are disabled: `http` and
// `fetch-event` (the host links no wasi:http and refuses the component),
// `stdio`, `random` and `clocks` (a transform gets time from the world's
// `clock` import, and needs none of the others). The component then imports
// only sluice:transform interfaces, no WASI at all.
//
// package.json pins @bytecodealliance/preview2-shim besides componentize-js:
// componentize-js imports it at run time without declaring it, and npm does
// not always hoist a copy where it can be found.
import { componentize } from '@bytecodealliance/componentize-js';
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] && resolve(process.argv[2]);
if (!out) {
  console.error('usage: node build.mjs OUT.wasm');
  process.exit(2);
}

// componentize-js reads the module and what it imports from under the
// working directory; flatten.js imports the SDK from the checkout
// (../../sdk/js), so work from the repository's root.
process.chdir(resolve(here, '../..'));

const { component } = await componentize({
  sourcePath: join(here, 'flatten.js'),
  // The JavaScript SDK's copy of the world (sluice:transform@0.2.0).
  witPath: resolve(here, '../../sdk/js/wit'),
  worldName: 'transformer',
  disableFeatures: ['http', 'fetch-event', 'stdio', 'random', 'clocks'],
});

// Write then rename, so a host watching the file never reads half of it.
const tmp = join(dirname(out), `.${basename(out)}.tmp`);
await writeFile(tmp, component);
await rename(tmp, out);
