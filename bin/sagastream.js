#!/usr/bin/env node
'use strict';
// Prefer the compiled CLI (built by `npm ci` through `prepare`); fall back to the
// TypeScript sources so a checkout without a build still works.
const path = require('path');
const fs = require('fs');
const compiled = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
if (fs.existsSync(compiled)) {
  require(compiled).main(process.argv.slice(2));
} else {
  require(path.join(__dirname, '..', 'spec', 'register.js'));
  require(path.join(__dirname, '..', 'lib', 'cli', 'main.ts')).main(process.argv.slice(2));
}
