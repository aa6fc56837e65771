// jest-environment-jsdom plus the Node globals that jsdom lacks and that fake-indexeddb (structuredClone)
// and text handling (TextEncoder/TextDecoder) need. Use it with a docblock in a *.jsdom.spec.ts file:
//   /** @jest-environment ./spec/support/jsdom-environment.cjs */
// or as the jsdom project's testEnvironment in jest.config.js.
const { TestEnvironment } = require('jest-environment-jsdom');

const NODE_GLOBALS = ['structuredClone', 'TextEncoder', 'TextDecoder'];

class JsdomWithNodeGlobals extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of NODE_GLOBALS) {
      if (typeof this.global[name] === 'undefined') this.global[name] = globalThis[name];
    }
  }
}

module.exports = JsdomWithNodeGlobals;
