// The rxsync client package. The protocol (codecs, LSNs, schema) is shared with the server;
// the operators are the building blocks of the client pipeline.
export * from './protocol/index.js';
export * from './operators/index.js';
export * from './errors.js';
export * from './streams/connection-state.js';
