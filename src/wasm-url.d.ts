/**
 * What `import url from 'rxsync/browser/wa-sqlite.wasm' with { loader: 'file' }` gives in a bundler
 * that emits the file and imports its URL (the Angular CLI's application builder): the URL to pass
 * as `wasmUrl`. scripts/build-browser.mjs ships this as dist/browser/wasm-url.d.ts, the types of
 * both .wasm exports of package.json.
 */
declare const url: string;
export default url;
