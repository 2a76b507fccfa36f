// Runs solc-js (npm `solc`, pinned in package.json) in standard-JSON mode:
// input on stdin, output on stdout. Used by tools/solc instead of the `solcjs`
// CLI, whose output is cut at 64 KiB when stdout is a pipe (it exits before
// node flushes) and which mixes `>>>` progress lines into the JSON.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const basePath = process.argv[2] || process.cwd();
const input = fs.readFileSync(0, 'utf8');

// forge inlines every source; the callback only serves stray imports.
function findImports(importPath) {
  const file = path.resolve(basePath, importPath);
  if (!file.startsWith(path.resolve(basePath) + path.sep)) {
    return { error: `import outside the project: ${importPath}` };
  }
  try {
    return { contents: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    return { error: `cannot read ${importPath}: ${e.message}` };
  }
}

const output = solc.compile(input, { import: findImports });
fs.writeSync(1, output);
fs.writeSync(1, '\n');
