// Test helpers for plugins, natively under `node --test` (no Wasm): the
// JavaScript twin of the Rust SDK's `sluice_plugin::testing`.

import { pack } from './value.js';

/** A JSON value as a WIT `packed-value`, the way the host packs it. */
export const packed = pack;

/** An input record holding `json` as its value, as the host would pass it. */
export function record(json) {
  return { topic: 'test', partition: 0, offset: 0n, timestamp: undefined, key: undefined, headers: [], value: pack(json) };
}
