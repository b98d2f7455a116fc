// compile.js compiles every .sol file in the folders given as arguments with
// the pinned solc-js (package.json) and writes, next to each source,
// <Contract>.bin (creation code) and <Contract>.bin-runtime (runtime code) as
// hex without 0x. The output is deterministic: no metadata hash is appended.
//
// Regenerate all committed bytecode (from e2e/evm/contracts):
//   npm ci && node compile.js ../../../internal/chain/wallet/contracts .
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const WANT = '0.8.37';
if (!solc.version().startsWith(WANT + '+')) {
  throw new Error(`solc ${solc.version()}, want ${WANT}`);
}

for (const dir of process.argv.slice(2)) {
  const sources = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
    sources[f] = { content: fs.readFileSync(path.join(dir, f), 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: 'paris', // no PUSH0 or MCOPY, so the code runs on every EVM chain
      optimizer: { enabled: true, runs: 200 },
      metadata: { appendCBOR: false },
      outputSelection: { '*': { '*': ['evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), {
    import: (p) => ({ contents: fs.readFileSync(path.join(dir, p), 'utf8') }),
  }));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  for (const e of out.errors || []) {
    if (e.severity === 'error' || !/SPDX/.test(e.message)) console.error(e.formattedMessage);
  }
  if (errors.length) process.exit(1);
  for (const [file, contracts] of Object.entries(out.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (path.basename(file, '.sol') !== name) continue; // imported contracts are written by their own file
      fs.writeFileSync(path.join(dir, name + '.bin'), c.evm.bytecode.object + '\n');
      if (c.evm.deployedBytecode.object.length > 32) { // a constructor-only contract has no runtime worth keeping
        fs.writeFileSync(path.join(dir, name + '.bin-runtime'), c.evm.deployedBytecode.object + '\n');
      }
      console.log(`${path.join(dir, name)}: ${c.evm.bytecode.object.length / 2} bytes creation, ${c.evm.deployedBytecode.object.length / 2} runtime`);
    }
  }
}
