import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../main.ts');

describe('the undici the agent loads', () => {
  it('is its Pool and request modules, never its index (fetch, WebSocket, caches: ~9 MiB of idle memory)', async function () {
    this.timeout(30_000);
    const esbuild = await import('esbuild');
    const result = await esbuild.build({ entryPoints: [MAIN], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const undici = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('node_modules/undici/'));
    assert.ok(undici.includes('node_modules/undici/lib/dispatcher/pool.js'), undici.join('\n'));
    const unwanted = undici.filter((f) => f === 'node_modules/undici/index.js' || /\/lib\/(web\/(websocket|eventsource|cache|fetch\/index)|mock|cache|interceptor)/.test(f));
    assert.deepEqual(unwanted, [], 'an agent module imports from "undici" instead of ./runtime/undici.ts');
  });
});
