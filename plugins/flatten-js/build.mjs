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
import { rename, rm, writeFile } from 'node:fs/promises';
import { entryModule } from '../../sdk/js/rows.js';
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

// flatten.js's `transform` returns one outcome per record (so `node --test`
// reads them as they are); the component's returns the world's
// `batch-output`. The SDK's entry module does that wrapping.
const entry = join(here, '.entry.js');
await writeFile(entry, entryModule('./flatten.js', '../../sdk/js/index.js'));
let component;
try {
  ({ component } = await componentize({
    sourcePath: entry,
    // The JavaScript SDK's copy of the world (sluice:transform@0.3.0).
    witPath: resolve(here, '../../sdk/js/wit'),
    worldName: 'transformer',
    disableFeatures: ['http', 'fetch-event', 'stdio', 'random', 'clocks'],
  }));
} finally {
  await rm(entry, { force: true });
}

// Write then rename, so a host watching the file never reads half of it.
const tmp = join(dirname(out), `.${basename(out)}.tmp`);
await writeFile(tmp, component);
await rename(tmp, out);
