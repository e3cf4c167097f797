// Runs TypeScript sources directly (tests, samples, benchmarks, child processes).
// ts-node in transpile-only mode with SWC keeps decorator metadata and starts fast.
process.env.TS_NODE_TRANSPILE_ONLY = 'true';
process.env.TS_NODE_SWC = 'true';
process.env.TS_NODE_PROJECT = require('path').join(__dirname, '..', 'tsconfig.json');
require('ts-node').register();
