import { wasmLocation } from '../../src/worker/wasm-location.js';

// Where a worker's engine fetches wa-sqlite's .wasm: the tab's wasmUrl over the worker's defaults.
describe('wasmLocation', () => {
  const defaults = { locateFile: (file: string) => `https://app.example/assets/rxsync-worker/${file}` };

  it('keeps the worker defaults when the tab gives nothing', () => {
    expect(wasmLocation(undefined, defaults)).toBe(defaults);
    expect(wasmLocation('', defaults)).toBe(defaults);
  });

  it('finds both files under their own names in a directory URL', () => {
    const { locateFile } = wasmLocation('https://cdn.example/rxsync/0.1.0/', defaults)!;
    expect(locateFile!('wa-sqlite.wasm')).toBe('https://cdn.example/rxsync/0.1.0/wa-sqlite.wasm');
    expect(locateFile!('wa-sqlite-async.wasm')).toBe('https://cdn.example/rxsync/0.1.0/wa-sqlite-async.wasm');
  });

  it("takes each file's own URL from a map (a bundler's hashed names), and the default for a file left out", () => {
    const { locateFile } = wasmLocation({ 'wa-sqlite-async.wasm': 'https://app.example/media/wa-sqlite-async-5ROYGKKT.wasm' }, defaults)!;
    expect(locateFile!('wa-sqlite-async.wasm')).toBe('https://app.example/media/wa-sqlite-async-5ROYGKKT.wasm');
    expect(locateFile!('wa-sqlite.wasm')).toBe('https://app.example/assets/rxsync-worker/wa-sqlite.wasm');
  });

  it('says which file has no URL when neither the map nor the worker gives one', () => {
    const { locateFile } = wasmLocation({ 'wa-sqlite.wasm': 'https://app.example/media/wa-sqlite-K2YVK5IQ.wasm' }, undefined)!;
    expect(() => locateFile!('wa-sqlite-async.wasm')).toThrow('no URL for "wa-sqlite-async.wasm": give it in wasmUrl');
  });
});
